"""Parser benchmark (`make bench-parser`): the C core on the host (requests/s, MB/s), then
_kiln.Parser against the pure-Python bench/parser/pyparser.py inside the unix firmware. Prints a
Markdown section (medians of 5 runs) to stdout; bench/run.py collects it into bench/RESULTS.md."""

import importlib.util
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench" / "parser"
WORK = ROOT / "build" / "parser" / "bench"
FIRMWARE = Path(os.environ.get("KILN_FIRMWARE", ROOT / "firmware" / "UNIX" / "kiln"))
CC = os.environ.get("CC", "cc")
BUILD_CMD = [
    CC, "-O2", "-I", "cmodules/kiln", "bench/parser/bench.c", "cmodules/kiln/kiln_http.c",
    "-o", "build/parser/bench/bench",
]


def load_requests():
    spec = importlib.util.spec_from_file_location("kiln_bench_requests", HERE / "requests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REQUESTS


def host_bench(requests):
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(BUILD_CMD, cwd=ROOT, check=True)
    files = []
    for i, (_, data, _) in enumerate(requests):
        path = WORK / ("request-%d.txt" % i)
        path.write_bytes(data)
        files.append(str(path))
    out = subprocess.run([str(WORK / "bench")] + files, check=True, capture_output=True, text=True).stdout
    runs = {}
    for line in out.splitlines():
        path, _, rps, mbs = line.split()
        runs.setdefault(path, []).append((float(rps), float(mbs)))
    return [
        (statistics.median(r for r, _ in runs[f]), statistics.median(m for _, m in runs[f])) for f in files
    ]


# The firmware runs with the unix default heap, and with an ESP32-class heap.
HEAPS = [None, "128k"]
RUNS = 5


def firmware_rate(heap, name, which):
    code = "import sys; sys.path.insert(0, '.'); import fwbench; fwbench.main(%r, %r)" % (name, which)
    cmd = [str(FIRMWARE)] + (["-X", "heapsize=" + heap] if heap else []) + ["-c", code]
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        sys.exit("firmware bench failed:\n" + proc.stdout + proc.stderr)
    return float(proc.stdout)


def firmware_bench(heap, requests):
    """{request name: (median kiln req/s, median Python req/s, median of the per-run ratios)}"""
    result = {}
    for name, _, _ in requests:
        kiln, python = [], []
        for _ in range(RUNS):
            kiln.append(firmware_rate(heap, name, "kiln"))
            python.append(firmware_rate(heap, name, "python"))
        ratios = [k / p for k, p in zip(kiln, python, strict=True)]
        result[name] = (statistics.median(kiln), statistics.median(python), statistics.median(ratios))
    return result


def main():
    requests = load_requests()
    host = host_bench(requests)
    fw = [firmware_bench(heap, requests) for heap in HEAPS]
    print("## Parser (C core and `_kiln` binding)")
    print()
    print("Command: `make bench-parser` (runs `.venv/bin/python bench/parser.py`). Medians of 5 runs of")
    print("0.3 s each, on %s (%s), 2 cores shared." % (platform.machine(), platform.system()))
    print()
    print("Host, C core alone: `%s`, then `build/parser/bench/bench <request files>`" % " ".join(BUILD_CMD))
    print("(each iteration zeroes the state and parses the whole head).")
    print()
    print("| request | bytes | headers | requests/s | MB/s |")
    print("|---|---:|---:|---:|---:|")
    for (name, data, count), (rps, mbs) in zip(requests, host, strict=True):
        print("| %s | %d | %d | %s | %.0f |" % (name, len(data), count, format(int(rps), ","), mbs))
    print()
    print("Unix firmware (`firmware/UNIX/kiln`, `bench/parser/fwbench.py`): requests parsed per second")
    print("through `_kiln.Parser(max_headers=48).feed(data)` versus the pure-Python")
    print("`bench/parser/pyparser.py`, each then reading `method`, `path` and the Host header. Every")
    print("run is a fresh firmware process (the same clean heap for both: MicroPython's allocator")
    print("speed depends on the heap's history), kiln and Python runs alternate, the ratio is the")
    print("median of the per-run ratios.")
    for heap, results in zip(HEAPS, fw, strict=True):
        print()
        if heap:
            print("With `-X heapsize=%s` (an ESP32-class heap):" % heap)
        else:
            print("With the unix port's default heap:")
        print()
        print("| request | `_kiln.Parser` req/s | pure Python req/s | ratio |")
        print("|---|---:|---:|---:|")
        for name, _, _ in requests:
            k, p, ratio = results[name]
            print("| %s | %s | %s | %.1f× |" % (name, format(int(k), ","), format(int(p), ","), ratio))
    print()


if __name__ == "__main__":
    main()
