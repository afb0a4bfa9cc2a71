#!/usr/bin/env python3
"""What the framework costs per request, in machine instructions (valgrind callgrind: the same
count on a busy or an idle machine). Prints a Markdown section for bench/RESULTS.md.

    .venv/bin/python bench/framework.py

Each case serves GET / ("Hello, world!") in-process: `_kiln.Parser().feed(request)` then
`app.handle(request)`, N times; the cost per request is (count(N) - count(0)) / N.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware" / "UNIX" / "kiln"
N = 2000

CASES = (
    ("App, one static route", "app"),
    ("App + a no-op before_request hook", "before"),
    ("App + a no-op after_request hook", "after"),
    ("App + both hooks", "both"),
)

SCRIPT = r'''
import sys
import _kiln
from kiln import App

case = sys.argv[1]
n = int(sys.argv[2])
app = App()


@app.get("/")
def index(request):
    return "Hello, world!"


if case in ("before", "both"):
    @app.before_request
    def before(request):
        pass

if case in ("after", "both"):
    @app.after_request
    def after(request, response):
        return response

handle = app.handle
parser = _kiln.Parser()
raw = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
for _ in range(n):
    handle(parser.feed(raw))
'''


def instructions(script, case, n):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(FIRMWARE),
                          script, case, str(n)], capture_output=True, text=True, check=True).stderr
    return int(next(line for line in out.splitlines() if "Collected" in line).split()[-1])


def main():
    if not shutil.which("valgrind"):
        sys.exit("bench/framework.py needs valgrind (apt-get install valgrind)")
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write(SCRIPT)
        f.flush()
        rows = []
        base = None
        for label, case in CASES:
            per = (instructions(f.name, case, N) - instructions(f.name, case, 0)) / N
            base = base or per
            rows.append("| %s | %.0f | %.2f× |" % (label, per, per / base))
    print("\n".join([
        "## Framework cost per request (instructions)", "",
        "`.venv/bin/python bench/framework.py`: valgrind callgrind, %d in-process requests per case "
        "(parse + `app.handle`), count(%d) - count(0), divided by %d. MicroPython's allocator makes "
        "these counts depend on the pattern of allocations (multi-block ones scan the heap), so compare "
        "rows, which differ only by the hooks." % (N, N, N), "",
        "| case | instructions per request | vs App |", "|---|---|---|", *rows, ""]))


if __name__ == "__main__":
    main()
