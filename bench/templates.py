#!/usr/bin/env python3
"""Template rendering benchmark; prints a Markdown section for bench/RESULTS.md (bench/run.py).

    .venv/bin/python bench/templates.py

The page: examples/blog/templates/table.html (extends base.html, which includes nav.html): a
100-row table, four escaped values per row, frozen into firmware/UNIX/kiln by `make unix`.
The limit it is compared with: a hand-written MicroPython generator yielding the same HTML with
the same escaping (checked equal before timing). Measured inside the firmware (renders/s, heap
allocated per render with gc disabled; a run is the fastest of 3 batches of 100 renders), under
callgrind (machine instructions per render: immune to the other processes of a shared machine),
and through live requests (wrk). Medians of 5 runs. Last, the time to compile the blog's
templates: on the host as the firmware build does (tools/compile_templates.py, with a loader), and
inside the firmware from source as render_template does for a template on the filesystem.
"""

import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware" / "UNIX" / "kiln"
WORK = ROOT / "build" / "bench" / "templates"
RUNS = 5
WRK = ["wrk", "-t2", "-c16", "-d3s"]

# The hand-written limit, and the data both sides render (a MicroPython module).
HAND = r'''
def esc(s):
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if '"' in s:
        s = s.replace('"', "&#34;")
    if "'" in s:
        s = s.replace("'", "&#39;")
    return s


def page(title, rows):
    yield '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>'
    yield esc(title)
    yield (' · Kiln blog</title>\n</head>\n<body>\n'
           '<nav><a href="/">Posts</a> · <a href="/table">Table</a></nav>\n<main>\n<table>\n'
           '<tr><th>#</th><th>Name</th><th>Email</th><th>Note</th></tr>\n')
    for row in rows:
        yield '\n<tr><td>'
        yield str(row["id"])
        yield '</td><td>'
        yield esc(row["name"])
        yield '</td><td>'
        yield esc(row["email"])
        yield '</td><td>'
        yield esc(row["note"])
        yield '</td></tr>\n'
    yield '\n</table>\n\n</main>\n<footer>Served by Kiln</footer>\n</body>\n</html>'


TITLE = "100 rows <&>"
ROWS = [{"id": i, "name": "user <%d>" % i, "email": "user%d@example.com" % i, "note": "a & b's \"note\""}
        for i in range(100)]
'''

# Runs inside the firmware: prints one JSON line.
IN_PROCESS = r'''
import gc, json, time
import hand
from kiln import template

template.frozen_package = "kiln_templates"
t = template.get_template("table.html")
assert type(t.module).__name__ == "module", "table.html is not frozen in this firmware"
assert "".join(t.generate(title=hand.TITLE, rows=hand.ROWS)) == "".join(hand.page(hand.TITLE, hand.ROWS))


def kiln_page():
    for _ in t.generate(title=hand.TITLE, rows=hand.ROWS):
        pass


def hand_page():
    for _ in hand.page(hand.TITLE, hand.ROWS):
        pass


def speed(fn, n=100):
    # One run: the fastest of 3 batches of n renders (another process's time slice is not ours).
    best = None
    for _ in range(3):
        gc.collect()
        start = time.ticks_us()
        for _ in range(n):
            fn()
        us = time.ticks_diff(time.ticks_us(), start)
        best = us if best is None else min(best, us)
    return n * 1000000 / best


def heap(fn):
    fn()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    fn()
    used = gc.mem_alloc() - before
    gc.enable()
    return used


out = {"kiln": [], "hand": []}
for _ in range(%(runs)d):
    out["kiln"].append(speed(kiln_page))
    out["hand"].append(speed(hand_page))
out["kiln_heap"] = heap(kiln_page)
out["hand_heap"] = heap(hand_page)
print(json.dumps(out))
'''

# Runs inside the firmware: compiles the blog's templates from source; prints one JSON line.
COMPILE = r'''
import gc, json, time
from kiln.template_compiler import compile_source

sources = []
for name in %(names)r:
    with open(%(folder)r + "/" + name) as f:
        sources.append((name, f.read()))


def compile_all():
    for name, source in sources:
        compile_source(source, "templates/" + name)


best = None
for _ in range(5):
    gc.collect()
    start = time.ticks_us()
    for _ in range(10):
        compile_all()
    us = time.ticks_diff(time.ticks_us(), start) / 10
    best = us if best is None else min(best, us)
gc.collect()
gc.disable()
before = gc.mem_alloc()
compile_all()
print(json.dumps({"us": best, "heap": gc.mem_alloc() - before}))
'''

# Runs inside the firmware under callgrind: renders one page %(n)d times.
COUNTED = r'''
import hand
from kiln import template

t = template.get_template("table.html")
for _ in range(%(n)d):
    for _ in (t.generate(title=hand.TITLE, rows=hand.ROWS) if %(kiln)s else hand.page(hand.TITLE, hand.ROWS)):
        pass
'''

# The live app: the frozen template and the hand-written generator behind two routes.
APP = r'''
from kiln import App, Response, render_template
import hand

app = App()


@app.get("/template")
def with_template(request):
    return render_template("table.html", title=hand.TITLE, rows=hand.ROWS)


@app.get("/hand")
def by_hand(request):
    return Response(hand.page(hand.TITLE, hand.ROWS), headers={"Content-Type": "text/html; charset=utf-8"})
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port, path):
    import urllib.request

    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.read()


def live():
    """Median req/s over RUNS wrk runs for /template and /hand, or None if the server fails."""
    port = free_port()
    code = "import sys; sys.path.insert(0, '.'); import main; main.app.run(host='127.0.0.1', port=%d)" % port
    proc = subprocess.Popen([str(FIRMWARE), "-c", code], cwd=WORK, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
        if fetch(port, "/template") != fetch(port, "/hand"):
            raise RuntimeError("/template and /hand differ")
        result = {}
        for path in ("/template", "/hand"):
            runs = []
            for _ in range(RUNS):
                out = subprocess.run(WRK + ["http://127.0.0.1:%d%s" % (port, path)], capture_output=True,
                                     text=True, check=True).stdout
                runs.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
            result[path] = statistics.median(runs)
        return result
    finally:
        proc.terminate()
        proc.wait(5)


def instructions(kiln):
    """Machine instructions per render (callgrind; the difference of 25 and 5 renders), or None."""
    if not shutil.which("valgrind"):
        return None
    counts = []
    for n in (5, 25):
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(FIRMWARE),
                              "-c", COUNTED % {"n": n, "kiln": kiln}], cwd=WORK, capture_output=True, text=True)
        counts.append(int(re.search(r"Collected : (\d+)", out.stderr).group(1)))
    return (counts[1] - counts[0]) / 20


def compile_times():
    """(host ms, firmware ms, firmware heap allocated) to compile the blog's templates once:
    the fastest of 5 batches of 10 on each side."""
    sys.path.insert(0, str(ROOT / "tools"))
    import compile_templates

    folder = ROOT / "examples" / "blog" / "templates"
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    sources = [(name, (folder / name).read_text()) for name in names]

    def loader(name):
        path = folder / name
        return (path.read_text(), "templates/" + name) if path.is_file() else None

    best = None
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            for name, source in sources:
                compile_templates.compiler.compile_source(source, "templates/" + name, loader)
        took = (time.perf_counter() - start) / 10
        best = took if best is None else min(best, took)
    proc = subprocess.run([str(FIRMWARE), "-c", COMPILE % {"names": names, "folder": str(folder)}],
                          capture_output=True, text=True, timeout=300, check=True)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return best * 1e3, r["us"] / 1e3, r["heap"]


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "hand.py").write_text(HAND)
    (WORK / "main.py").write_text(APP)
    proc = subprocess.run([str(FIRMWARE), "-c", IN_PROCESS % {"runs": RUNS}], cwd=WORK, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode:
        raise SystemExit("bench/templates.py: the in-process run failed:\n" + proc.stdout + proc.stderr)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    kiln, hand = statistics.median(r["kiln"]), statistics.median(r["hand"])
    extra = r["kiln_heap"] - r["hand_heap"]
    lines = [
        "## Templates",
        "",
        "`bench/templates.py`: `examples/blog/templates/table.html` (extends `base.html`, includes "
        "`nav.html`; a 100-row table, 301 escaped values, frozen into the firmware) against a "
        "hand-written generator yielding the same HTML with the same escaping. Medians of %d runs "
        "(in the firmware, a run is the fastest of 3 batches of 100 renders)." % RUNS,
        "",
        "| in the firmware | renders/s | vs hand-written | heap allocated per render |",
        "|---|---|---|---|",
        "| Kiln template | %.0f | %.0f%% | %d B |" % (kiln, 100 * kiln / hand, r["kiln_heap"]),
        "| hand-written generator | %.0f | 100%% | %d B |" % (hand, r["hand_heap"]),
        "",
        "Heap per render beyond the output chunks (which both allocate: escaped values, row ids as "
        "str): **%d B** (goal < 1024 B); speed %.0f%% of hand-written (goal >= 70%%)."
        % (extra, 100 * kiln / hand),
    ]
    kiln_ir, hand_ir = instructions(True), instructions(False)
    if kiln_ir:
        lines += ["", "Machine instructions per render (valgrind callgrind, deterministic where wall-clock "
                  "time on a shared machine is not): Kiln %.2f M, hand-written %.2f M: **%.0f%%** of "
                  "hand-written speed." % (kiln_ir / 1e6, hand_ir / 1e6, 100 * hand_ir / kiln_ir)]
    served = live()
    lines.append("")
    if served is None:
        lines.append("Live requests: not measured (the app did not start in this firmware).")
    else:
        lines += [
            "| through a live request (`%s`) | req/s | vs hand-written |" % " ".join(WRK),
            "|---|---|---|",
            "| `render_template(\"table.html\")` | %.0f | %.0f%% |" % (
                served["/template"], 100 * served["/template"] / served["/hand"]),
            "| `Response(hand-written generator)` | %.0f | 100%% |" % served["/hand"],
        ]
    host_ms, firmware_ms, heap = compile_times()
    lines += ["", "Compiling the blog's 5 templates once (fastest of 5 batches of 10): %.1f ms on the host "
              "(CPython, with a loader, as the build does), %.1f ms inside the firmware from source "
              "(%d B of heap allocated)." % (host_ms, firmware_ms, heap)]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
