#!/usr/bin/env python3
"""Under attack: an honest client's latency while slowloris connections and a burst run.

Kiln's C loop (bench/apps/kiln_loop.py, default config) on 127.0.0.1. For ATTACK_SECONDS,
SLOWLORIS connections from 127.0.0.2 each send half a request head and a header line every
second (reconnecting when dropped); from the third second BURST short connections from
127.0.0.3 (32 at a time) each send one request and read the answer; an honest client on
127.0.0.1 asks for the hello page every 50 ms on a new connection and counts the time until it
has a 200, retrying at once after a 503 or a reset. Prints a Markdown section; bench/run.py puts
it in bench/RESULTS.md.

"Before" is the firmware of KILN_BEFORE_FIRMWARE (the build of the commit before the pressure
deadlines and the per-client cap), when set; otherwise that column is left out.
Bounded: at most SLOWLORIS + 64 sockets of the bench's own, ATTACK_SECONDS per firmware.
"""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

SLOWLORIS = int(os.environ.get("BENCH_SLOWLORIS", "300"))
BURST = int(os.environ.get("BENCH_BURST", "2000"))
ATTACK_SECONDS = float(os.environ.get("BENCH_ATTACK_SECONDS", "20"))
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def connect(port, host, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((host, 0))
    s.connect(("127.0.0.1", port))
    return s


def status_of(s):
    """The status of the first response on s, after reading all of it (None: reset/closed)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = s.recv(4096)
            if not chunk:
                return None
            rest += chunk
        return int(head.split()[1])
    except OSError:
        return None


def slowloris(port, stop, stats):
    socks = []
    while not stop.is_set():
        while len(socks) < SLOWLORIS and not stop.is_set():
            try:
                s = connect(port, "127.0.0.2", timeout=0.5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n")
                s.setblocking(False)
                socks.append(s)
                stats["opened"] += 1
            except OSError:
                break
        alive = []
        for s in socks:
            try:
                s.send(b"X-a: b\r\n")
                alive.append(s)
            except OSError:
                s.close()
        stats["dropped"] += len(socks) - len(alive)
        socks = alive
        stop.wait(1)
    for s in socks:
        s.close()


def burst(port, stop, stats):
    left = [BURST]
    lock = threading.Lock()

    def one():
        while not stop.is_set():
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                s = connect(port, "127.0.0.3")
                s.sendall(REQUEST)
                st = status_of(s)
                s.close()
            except OSError:
                st = None
            with lock:
                stats[st] = stats.get(st, 0) + 1

    threads = [threading.Thread(target=one, daemon=True) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(ATTACK_SECONDS)


def honest(port, stop, latencies, stats):
    while not stop.is_set():
        start = time.monotonic()
        while True:
            try:
                s = connect(port, "127.0.0.1")
                s.sendall(REQUEST)
                st = status_of(s)
                s.close()
            except OSError:
                st = None
            if st == 200 or time.monotonic() - start > 10:
                break
            stats[st] = stats.get(st, 0) + 1
        latencies.append(time.monotonic() - start)
        stop.wait(0.05)


def measure(firmware):
    port = run.free_port()
    proc = subprocess.Popen(
        [str(firmware), str(run.BENCH / "apps" / "kiln_loop.py"), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        run.wait_port(port, proc)
        stop = threading.Event()
        latencies, honest_stats, burst_stats = [], {}, {}
        loris_stats = {"opened": 0, "dropped": 0}
        threads = [
            threading.Thread(target=slowloris, args=(port, stop, loris_stats), daemon=True),
            threading.Thread(target=honest, args=(port, stop, latencies, honest_stats), daemon=True),
        ]
        for t in threads:
            t.start()
        time.sleep(3)
        burst_t = threading.Thread(target=burst, args=(port, stop, burst_stats), daemon=True)
        burst_t.start()
        time.sleep(max(0.0, ATTACK_SECONDS - 3))
        stop.set()
        for t in threads + [burst_t]:
            t.join(15)
    finally:
        proc.kill()
        proc.wait()
    lat = sorted(latencies)
    return {
        "n": len(lat),
        "p50": statistics.median(lat) * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "max": lat[-1] * 1000,
        "retries": sum(honest_stats.values()),
        "burst_ok": burst_stats.get(200, 0),
        "burst_n": sum(burst_stats.values()),
        "loris": loris_stats["opened"],
    }


def main():
    columns = []
    before = os.environ.get("KILN_BEFORE_FIRMWARE")
    if before:
        columns.append(("before (%s)" % os.environ.get("KILN_BEFORE_LABEL", "previous build"), before))
    columns.append(("after (firmware/UNIX/kiln)", run.FIRMWARE))
    results = [(name, measure(fw)) for name, fw in columns]
    out = [
        "## Under attack",
        "",
        "Kiln's C loop (`bench/apps/kiln_loop.py`, default config) on 127.0.0.1 for %g s: %d slowloris "
        "connections from 127.0.0.2 (half a head, one header line a second, reconnecting when dropped), "
        "from the third second a burst of %d short connections from 127.0.0.3 (32 at a time), and an "
        "honest client on 127.0.0.1 asking every 50 ms on a new connection; its latency is the time "
        "to a 200, retrying at once after a 503 or a reset. One run per firmware."
        % (ATTACK_SECONDS, SLOWLORIS, BURST),
        "",
        "| firmware | honest requests | p50 ms | p99 ms | max ms | honest retries | burst 200s | "
        "slowloris connections opened |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results:
        out.append("| %s | %d | %.0f | %.0f | %.0f | %d | %d of %d | %d |" % (
            name, r["n"], r["p50"], r["p99"], r["max"], r["retries"], r["burst_ok"], r["burst_n"], r["loris"]))
    if not before:
        out += ["", "No \"before\" column: set KILN_BEFORE_FIRMWARE to an older build to compare."]
    print("\n".join(out))


if __name__ == "__main__":
    main()
