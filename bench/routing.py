#!/usr/bin/env python3
"""What routing costs as an app grows; prints a Markdown section for bench/RESULTS.md (bench/run.py).

    .venv/bin/python bench/routing.py [firmware]

The app: N dynamic routes `/r<i>/<int:id>` (one view function), the request `GET /r<N-1>/5`, the
last route registered. Inside the firmware (firmware/UNIX/kiln unless another is given):
- instructions per request: valgrind callgrind, parse + `app.handle` M times,
  (count(M) - count(0)) / M, in a heap of HEAP (large enough for the old router's routes);
- heap per route: `gc.mem_free()` after a collection, before and after registering N routes
  (the pattern strings are made in the loop and counted: a route holds its pattern);
- whether N routes register with `-X heapsize=256k`, and the smallest heap they register in;
- the same heap figures on a 32-bit build (the word size of the boards): the device profile's
  firmware (`make unix-device`), or the one BENCH_FIRMWARE32 names.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "firmware" / "UNIX" / "kiln"
DEVICE = ROOT / "firmware" / "UNIX_DEVICE" / "kiln"
FIRMWARE32 = os.environ.get("BENCH_FIRMWARE32") or (str(DEVICE) if DEVICE.exists() else None)
COUNTS = (10, 100, 1000)
M = 2000
HEAP = "16m"
SMALL_HEAP = "256k"

SCRIPT = r'''
import gc
import sys
import _kiln
from kiln import App

routes = int(sys.argv[1])
mode = sys.argv[2]
app = App()


def view(request, id):
    return "item"


gc.collect()
before = gc.mem_free()
try:
    for i in range(routes):
        app.get("/r%d/<int:id>" % i)(view)
except MemoryError:
    print("MemoryError at route", i)
    raise SystemExit
gc.collect()
if mode == "heap":
    print("heap per route", (before - gc.mem_free()) / routes)
    raise SystemExit
n = int(mode)
handle = app.handle
parser = _kiln.Parser(request_class=app._request)
raw = b"GET /r%d/5 HTTP/1.1\r\nHost: bench\r\n\r\n" % (routes - 1)
assert handle(parser.feed(raw))[2] == "item"
for _ in range(n):
    handle(parser.feed(raw))
'''


def firmware(script, heap, *args, tool=(), fw=None):
    return subprocess.run([*tool, str(fw or FIRMWARE), "-X", "heapsize=" + heap, script, *map(str, args)],
                          capture_output=True, text=True, check=True)


def instructions(script, routes, n):
    out = firmware(script, HEAP, routes, n,
                   tool=("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")).stderr
    return int(next(line for line in out.splitlines() if "Collected" in line).split()[-1])


def heap_figures(script, fw=None):
    """(bytes per route, whether they register in SMALL_HEAP, the smallest heap in KB)."""
    routes = COUNTS[-1]
    per = firmware(script, HEAP, routes, "heap", fw=fw).stdout.split()[-1]
    fits = firmware(script, SMALL_HEAP, routes, "heap", fw=fw).stdout.startswith("heap")
    low, high = 16, 16384  # KB: low fails, high fits
    while high - low > 8:
        mid = (low + high) // 2
        if firmware(script, "%dk" % mid, routes, "heap", fw=fw).stdout.startswith("heap"):
            high = mid
        else:
            low = mid
    return float(per), fits, high


def main():
    if not shutil.which("valgrind"):
        sys.exit("bench/routing.py needs valgrind (apt-get install valgrind)")
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write(SCRIPT)
        f.flush()
        rows = []
        base = None
        for routes in COUNTS:
            per = (instructions(f.name, routes, M) - instructions(f.name, routes, 0)) / M
            base = base or per
            rows.append("| %d | %.0f | %.2f× |" % (routes, per, per / base))
        heap_rows = []
        for label, fw in (("64-bit unix (firmware/UNIX/kiln)", None), ("32-bit unix", FIRMWARE32)):
            if label.startswith("32") and not fw:
                continue
            per, fits, smallest = heap_figures(f.name, fw)
            heap_rows.append("| %s | %.0f | %s | %d KB |" % (label, per, "yes" if fits else "no", smallest))
    print("\n".join([
        "## Routing as the app grows", "",
        "`.venv/bin/python bench/routing.py`: N dynamic routes `/r<i>/<int:id>`, the request "
        "`GET /r<N-1>/5` (the last route registered); valgrind callgrind, %d in-process requests "
        "(parse + `app.handle`) in a %s heap, count(%d) - count(0), divided by %d." % (M, HEAP, M, M), "",
        "| routes | instructions per request | vs 10 routes |", "|---|---|---|", *rows, "",
        "Registering %d routes: heap per route (gc.mem_free before and after, the pattern strings "
        "included), whether they register with `-X heapsize=%s`, and the smallest heap they "
        "register in (to 8 KB)." % (COUNTS[-1], SMALL_HEAP), "",
        "| firmware | bytes per route | in %s | smallest heap |" % SMALL_HEAP, "|---|---|---|---|",
        *heap_rows, "",
        "What changed (issue 12): the router scanned the first segment of every dynamic route "
        "with `startswith` (10 / 100 / 1,000 routes: 35.2k / 132k / 1.10M instructions), kept a "
        "regex, a closure and a dozen attributes per rule (1,359 bytes per route on 64-bit, 744 on "
        "32-bit; 1,000 routes needed a 3.7 MB heap, fragmented); it now looks dynamic routes up by "
        "first segment and slash count (a startswith each while an app has at most 8 first "
        "segments), a rule is one tuple plus its methods and endpoints, argument callers and "
        "converter regexes are shared, and the heap is collected while routes register.", ""]))


if __name__ == "__main__":
    main()
