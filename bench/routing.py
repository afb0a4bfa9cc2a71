#!/usr/bin/env python3
"""What routing costs as an app grows; prints a Markdown section for bench/RESULTS.md (bench/run.py).

    .venv/bin/python bench/routing.py [firmware]

The app: N dynamic routes `/r<i>/<int:id>` (one view function), the request `GET /r<N-1>/5`, the
last route registered. Inside the firmware (firmware/UNIX/kiln unless another is given):
- instructions per request: valgrind callgrind, parse + `app.handle` M times,
  (count(M) - count(0)) / M, in a heap of HEAP (large enough for the old router's routes);
- heap per route: `gc.mem_free()` after a collection, before and after registering N routes
  (the pattern strings are made in the loop and counted: a route holds its pattern);
- whether N routes register with `-X heapsize=256k`.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "firmware" / "UNIX" / "kiln"
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
parser = _kiln.Parser()
raw = b"GET /r%d/5 HTTP/1.1\r\nHost: bench\r\n\r\n" % (routes - 1)
assert handle(parser.feed(raw))[2] == "item"
for _ in range(n):
    handle(parser.feed(raw))
'''


def firmware(script, heap, *args, tool=()):
    return subprocess.run([*tool, str(FIRMWARE), "-X", "heapsize=" + heap, script, *map(str, args)],
                          capture_output=True, text=True, check=True)


def instructions(script, routes, n):
    out = firmware(script, HEAP, routes, n,
                   tool=("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")).stderr
    return int(next(line for line in out.splitlines() if "Collected" in line).split()[-1])


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
        heap = firmware(f.name, HEAP, COUNTS[-1], "heap").stdout.strip()
        small = firmware(f.name, SMALL_HEAP, COUNTS[-1], "heap").stdout.strip()
    print("\n".join([
        "## Routing as the app grows", "",
        "`.venv/bin/python bench/routing.py`: N dynamic routes `/r<i>/<int:id>`, the request "
        "`GET /r<N-1>/5` (the last route registered); valgrind callgrind, %d in-process requests "
        "(parse + `app.handle`) in a %s heap, count(%d) - count(0), divided by %d." % (M, HEAP, M, M), "",
        "| routes | instructions per request | vs 10 routes |", "|---|---|---|", *rows, "",
        "Registering %d routes (gc.mem_free before and after, patterns included): %s bytes; "
        "with `-X heapsize=%s`: %s." % (
            COUNTS[-1], heap.split()[-1] if heap.startswith("heap") else heap, SMALL_HEAP,
            "they register, %s bytes per route" % small.split()[-1] if small.startswith("heap") else small),
        ""]))


if __name__ == "__main__":
    main()
