#!/usr/bin/env python3
"""Stock MicroPython: Kiln with the pure-Python _kiln (modules/_kiln*.py, as `mip install` leaves
it) against Kiln with the C module and against Microdot, on the hello page and a JSON route.
Prints a Markdown section; `make bench` (bench/run.py) puts it in bench/RESULTS.md.

The fallback and Microdot run on the same stock unix MicroPython (`make unix-stock`, through
tools/stock-kiln.sh, which puts modules/ on its path); Kiln with the C module on
firmware/UNIX/kiln. All three serve bench/apps/kiln_app.py's routes (Microdot its own
bench/apps/microdot_app.py) on 127.0.0.1; BENCH_ROUNDS and BENCH_DURATION as for run.py.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

STOCK_KILN = run.ROOT / "tools" / "stock-kiln.sh"


def main():
    md_dir = run.microdot_dir()
    servers = {
        "Kiln, C module (Kiln firmware)": (run.kiln("kiln_app.py"), None),
        "Kiln, pure-Python _kiln (stock MicroPython)": (
            lambda port: [str(STOCK_KILN), str(run.BENCH / "apps" / "kiln_app.py"), str(port)], None),
        "Microdot %s (stock MicroPython)" % run.fetch_microdot.VERSION: (
            lambda port: [str(STOCK_KILN), str(md_dir / "microdot_app.py"), str(port)], md_dir),
    }
    md = "Microdot %s (stock MicroPython)" % run.fetch_microdot.VERSION
    hello = run.side_by_side(servers)
    items = run.side_by_side(servers, path="/items/42", expected=lambda body: json.loads(body)["id"] == 42)
    fallback = "Kiln, pure-Python _kiln (stock MicroPython)"
    out = [
        "## Stock MicroPython: the pure-Python _kiln",
        "",
        "`%s`, %d rounds, servers interleaved, medians. The fallback and Microdot on the stock unix "
        "MicroPython of `make unix-stock` (no C module), Kiln's C module on `firmware/UNIX/kiln`. "
        "Microdot closes the connection after every response; Kiln keeps it." % (" ".join(run.WRK), run.ROUNDS),
        "",
        "### Hello world", "", run.table(hello, md), "",
        "### `GET /items/42` (a converter, a JSON body)", "", run.table(items, md), "",
        "The fallback serves %.1f× Microdot's rate on hello and %.1f× on JSON (the goal is 2×), and "
        "%.0f%% and %.0f%% of the C module's." % (
            hello[fallback][0] / hello[md][0], items[fallback][0] / items[md][0],
            100 * hello[fallback][0] / hello["Kiln, C module (Kiln firmware)"][0],
            100 * items[fallback][0] / items["Kiln, C module (Kiln firmware)"][0]),
        "",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
