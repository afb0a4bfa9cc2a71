#!/usr/bin/env python3
"""Connection scale and storms: more clients than connection slots, and 1,000 at once.

Kiln's App hello page (bench/apps/kiln_app.py, the default config: max_connections from the
heap, 253 slots in the unix firmware's 2 MB heap) and nginx (1 worker, worker_connections 4096)
under `wrk -t2 -cN --latency` for N = 16, 300, 1000, each run on a fresh server, ROUNDS rounds
with the servers and connection counts interleaved, medians of the 2xx rate and p99; wrk's own
error counts (connect, read, write, timeout: a read error is a connection closed or reset before
its response) and the non-2xx answers (a 503 for a client that waited and found no slot), summed
over the rounds. Then the same pinned: the server on CPU 0 (`taskset -c 0`) and wrk (`-t1`) on
CPU 1, so that the server alone limits the rate.

Then 1,000 keep-alive connections with a slot each (bench/apps/kiln_app_conns.py,
max_connections=1000, `-X heapsize=HEAP_1000`): a client opens them all at once and sends
PER_CONNECTION requests on each, one after the other, checking every answer; and wrk -c1000 on
the same server.

"Before" is the firmware of KILN_BEFORE_FIRMWARE (KILN_BEFORE_LABEL names it), when set.
Bounded: at most 1,000 client sockets at a time, DURATION per wrk run; 127.0.0.1 only.
Prints a Markdown section; bench/run.py puts it in bench/RESULTS.md.
"""

import os
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

CONNECTIONS = (16, 300, 1000)
ROUNDS = run.ROUNDS
DURATION = run.DURATION
HEAP_1000 = os.environ.get("BENCH_HEAP_1000", "16m")
PER_CONNECTION = int(os.environ.get("BENCH_PER_CONNECTION", "10"))
ERROR_KINDS = ("connect", "read", "write", "timeout")
# The 1,000 connections come from ten client addresses: one address holding more than half the
# slots unanswered meets the per-client cap (max_per_client), as it should.
CLIENT_HOSTS = ["127.0.1.%d" % i for i in range(1, 11)]


def raise_fd_limit(need=4096):
    """Raise this process's open-file limit (inherited by wrk and the servers) to `need`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Started:
    """A server process on a free port (its console to a file, so a chatty server never blocks
    on a full pipe); `with Started(argv_for_port) as s:` stops it afterwards."""

    def __init__(self, argv_for_port, pinned=False):
        self.port = run.free_port()
        argv = argv_for_port(self.port)
        if pinned:
            argv = ["taskset", "-c", "0"] + argv
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        run.wait_port(self.port, self.proc)
        self.url = "http://127.0.0.1:%d/" % self.port

    def console(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        run.stop(self.proc)
        self.log.close()


def wrk_command(conns, pinned):
    if pinned:
        return ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d" + DURATION, "--latency"]
    return ["wrk", "-t2", "-c%d" % conns, "-d" + DURATION, "--latency"]


def seconds(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def wrk(url, conns, pinned):
    """One wrk run: {'ok_rps': 2xx answers per second, 'p99': ms, 'non2xx': n, error kind: n}."""
    out = subprocess.run(wrk_command(conns, pinned) + [url], capture_output=True, text=True,
                         check=True).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    requests, took = int(done.group(1)), seconds(done.group(2), done.group(3))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"p99": seconds(p99.group(1), p99.group(2)) * 1000 if p99 else 0.0,
              "non2xx": int(non2xx.group(1)) if non2xx else 0}
    result["ok_rps"] = (requests - result["non2xx"]) / took
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    for i, kind in enumerate(ERROR_KINDS):
        result[kind] = int(errors.group(i + 1)) if errors else 0
    return result


def servers():
    kiln_app = str(run.BENCH / "apps" / "kiln_app.py")
    found = {}
    before = os.environ.get("KILN_BEFORE_FIRMWARE")
    if before:
        label = os.environ.get("KILN_BEFORE_LABEL", "previous build")
        found["Kiln App, before (%s)" % label] = lambda port: [before, kiln_app, str(port)]
    found["Kiln App"] = lambda port: [str(run.FIRMWARE), kiln_app, str(port)]
    found["nginx (1 worker)"] = run.nginx(worker_connections=4096)
    return found


def storms(pinned):
    """ROUNDS interleaved rounds of every server at every connection count: a Markdown table."""
    todo = servers()
    samples = {(name, n): [] for name in todo for n in CONNECTIONS}
    for _ in range(ROUNDS):
        for n in CONNECTIONS:
            for name, argv in todo.items():
                with Started(argv, pinned) as s:
                    run.check_page(s.url, lambda body: body == run.HELLO)
                    samples[name, n].append(wrk(s.url, n, pinned))
    lines = ["| server | connections | 2xx/s (median) | vs 16 connections | p99 ms (median) | "
             "wrk errors connect/read/write/timeout | non-2xx |", "|---|---|---|---|---|---|---|"]
    for name in todo:
        base = statistics.median(r["ok_rps"] for r in samples[name, CONNECTIONS[0]])
        for n in CONNECTIONS:
            runs = samples[name, n]
            rps = statistics.median(r["ok_rps"] for r in runs)
            lines.append("| %s | %d | %.0f | %.2f× | %.1f | %s | %d |" % (
                name, n, rps, rps / base, statistics.median(r["p99"] for r in runs),
                "/".join(str(sum(r[k] for r in runs)) for k in ERROR_KINDS),
                sum(r["non2xx"] for r in runs)))
    return "\n".join(lines)


def response_length(buf):
    """The length of the complete response at the start of buf, or 0 while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return 0
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", buf[:end])
    total = end + 4 + (int(length.group(1)) if length else 0)
    return total if len(buf) >= total else 0


def keep_alive_clients(port, conns, per_connection, limit=60):
    """conns keep-alive connections opened at once, each sending per_connection GETs one after
    the other; every answer must be a 200 with the hello page. Returns (answered, latencies in
    ms, failures: {what: count})."""
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    sel = selectors.DefaultSelector()
    failures = {}
    latencies = []
    open_ = 0
    for i in range(conns):
        s = socket.socket()
        s.setblocking(False)
        s.bind((CLIENT_HOSTS[i % len(CLIENT_HOSTS)], 0))
        s.connect_ex(("127.0.0.1", port))
        sel.register(s, selectors.EVENT_WRITE, {"done": 0, "buf": b"", "sent": None})
        open_ += 1

    def fail(s, what):
        failures[what] = failures.get(what, 0) + 1
        sel.unregister(s)
        s.close()

    deadline = time.monotonic() + limit
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s, st = key.fileobj, key.data
            if st["sent"] is None:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(s, "connect: %s" % os.strerror(err))
                    open_ -= 1
                    continue
                s.sendall(request)
                st["sent"] = time.monotonic()
                sel.modify(s, selectors.EVENT_READ, st)
                continue
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = None
            if not data:
                fail(s, "reset" if data is None else "closed before the answer")
                open_ -= 1
                continue
            st["buf"] += data
            n = response_length(st["buf"])
            if n:
                answer, st["buf"] = st["buf"][:n], st["buf"][n:]
                if not answer.startswith(b"HTTP/1.1 200 ") or not answer.endswith(run.HELLO):
                    fail(s, "answered %r" % answer.split(b"\r\n", 1)[0].decode(errors="replace"))
                    open_ -= 1
                    continue
                latencies.append((time.monotonic() - st["sent"]) * 1000)
                st["done"] += 1
                if st["done"] == per_connection:
                    sel.unregister(s)
                    s.close()
                    open_ -= 1
                else:
                    s.sendall(request)
                    st["sent"] = time.monotonic()
    for key in list(sel.get_map().values()):
        failures["unanswered after %d s" % limit] = failures.get("unanswered after %d s" % limit, 0) + 1
        key.fileobj.close()
    return len(latencies), latencies, failures


def thousand():
    argv = lambda port: [str(run.FIRMWARE), "-X", "heapsize=" + HEAP_1000,  # noqa: E731
                         str(run.BENCH / "apps" / "kiln_app_conns.py"), str(port), "1000"]
    with Started(argv) as s:
        start = time.monotonic()
        answered, lat, failures = keep_alive_clients(s.port, 1000, PER_CONNECTION)
        took = time.monotonic() - start
        console = s.console()
    with Started(argv) as s:
        w = wrk(s.url, 1000, pinned=False)
    lat.sort()
    slots = re.search(r"Kiln: heap for (\d+) of 1000 connections", console)
    out = ["1,000 keep-alive connections, each with a slot (`max_connections=1000`, `-X heapsize=%s`%s): "
           "a client opens them all at once (from 10 loopback addresses) and sends %d requests on each, one "
           "after the other." % (
               HEAP_1000, "; the heap held %s slots" % slots.group(1) if slots else "", PER_CONNECTION), "",
           "| answered (200 with the page) | failures | p50 ms | p99 ms | max ms | wall time s |",
           "|---|---|---|---|---|---|",
           "| %d of %d | %s | %.1f | %.1f | %.1f | %.1f |" % (
               answered, 1000 * PER_CONNECTION,
               ", ".join("%s: %d" % kv for kv in sorted(failures.items())) or "none",
               statistics.median(lat) if lat else 0, lat[int(len(lat) * 0.99)] if lat else 0,
               lat[-1] if lat else 0, took), "",
           "`%s` on the same server: %.0f 2xx/s, p99 %.1f ms, errors connect/read/write/timeout %s, "
           "non-2xx %d." % (" ".join(wrk_command(1000, False)), w["ok_rps"], w["p99"],
                            "/".join(str(w[k]) for k in ERROR_KINDS), w["non2xx"])]
    return "\n".join(out)


def main():
    limit = raise_fd_limit()
    pinned = shutil.which("taskset") and (os.cpu_count() or 1) >= 2
    out = ["## Connection scale and storms", "",
           "Kiln App's hello page (default config: 253 connection slots in the unix firmware's 2 MB "
           "heap) and nginx (1 worker, worker_connections 4096), `%s` for N = %s (wrk's 2 s "
           "timeout), a fresh server per run, %d rounds, servers and counts interleaved, medians; "
           "errors and non-2xx summed over the rounds; open-file limit %d. A read error is a "
           "connection closed or reset before its answer. Clients beyond the slots wait in the "
           "listen backlog and get a 503 once they have waited %s; wrk's p99 counts those waits. "
           "What changed: a full server used to close the connection it had served last, under "
           "its next request (wrk's read errors), and to answer 503 before a refused client's "
           "request had arrived, to clients that reconnect at once (`bench/scale.py`)." % (
               " ".join(wrk_command(CONNECTIONS[0], False)).replace("-c16", "-cN"),
               ", ".join(str(n) for n in CONNECTIONS), ROUNDS, limit, "1 s"),
           "", "### wrk and the server sharing the 2 cores", "", storms(False), ""]
    if pinned:
        out += ["### The server alone on CPU 0, wrk (`-t1`) on CPU 1", "", storms(True), ""]
    out += ["### 1,000 keep-alive connections", "", thousand()]
    print("\n".join(out))


if __name__ == "__main__":
    main()
