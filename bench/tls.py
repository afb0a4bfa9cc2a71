#!/usr/bin/env python3
"""HTTPS: what TLS costs Kiln's server; prints a Markdown section for bench/RESULTS.md
(bench/run.py).

    .venv/bin/python bench/tls.py

The unix firmware (Mbed TLS) serves tests/apps/ws_echo over TLS with an EC P-256 certificate
(tools/make-cert.sh) and in plain HTTP, side by side, the server pinned to core 0 and the
client to core 1 (`taskset`): new connections per second (a TLS handshake and one request each,
from CPython's ssl) and keep-alive requests per second (wrk, which speaks TLS, 8 connections);
medians of BENCH_ROUNDS interleaved rounds. Then the heap per open TLS connection on the 32-bit
device profile (firmware/UNIX_DEVICE/kiln, Mbed TLS allocating from the MicroPython heap), and
how many TLS connections the ESP32 profile's 110 KB heap holds at once.
"""

import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import run  # noqa: E402

APP = ROOT / "tests" / "apps" / "ws_echo"
DEVICE = ROOT / "firmware" / "UNIX_DEVICE" / "kiln"
ROUNDS = run.ROUNDS
SECONDS = 3


def serve(firmware, port, certs, tls, heapsize=None, extra=""):
    code = ("import sys, gc; sys.path.insert(0, '.'); import main, kiln.tls\n"
            "@main.app.get('/mem')\n"
            "def mem(request):\n"
            "    gc.collect()\n"
            "    return str(gc.mem_free())\n"
            "main.app.run(host='127.0.0.1', port=%d%s%s)\n"
            % (port, ", ssl=kiln.tls.server_context(%r, %r)" % (str(certs / "cert.pem"), str(certs / "key.pem"))
               if tls else "", extra))
    argv = ["taskset", "-c", "0", str(firmware)] + (["-X", "heapsize=%s" % heapsize] if heapsize else []) + ["-c", code]
    proc = subprocess.Popen(argv, cwd=APP, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    run.wait_port(port, proc)
    return proc


def stop(proc):
    proc.terminate()
    proc.wait(5)


def client_context(certs):
    return ssl.create_default_context(cafile=str(certs / "cert.pem"))


def connect(port, ctx):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(s, server_hostname="localhost") if ctx else s


def connections_per_second(port, ctx):
    # each: connect (and handshake), one request, read to the close
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < SECONDS:
        with connect(port, ctx) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(4096):
                pass
        n += 1
    return n / (time.monotonic() - t0)


def keep_alive_rps(url):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c8", "-d%ds" % SECONDS]
    return run.wrk(url, cmd=cmd)[0]


def mem(s):
    s.sendall(b"GET /mem HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        data += s.recv(4096)
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                return int(body[:length])


def heap_per_connection(certs, tls, n=4):
    port = run.free_port()
    proc = serve(DEVICE, port, certs, tls, heapsize="512k", extra=", max_connections=8")
    try:
        ctx = client_context(certs) if tls else None
        first = connect(port, ctx)
        base = mem(first)
        others = [connect(port, ctx) for _ in range(n)]
        for s in others:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(4096)
        after = mem(first)
        for s in others + [first]:
            s.close()
        return (base - after) / n
    finally:
        stop(proc)


def tls_connections_that_fit(certs, heapsize="110k", limit=16):
    port = run.free_port()
    proc = serve(DEVICE, port, certs, True, heapsize=heapsize, extra=", max_connections=%d" % limit)
    ctx = client_context(certs)
    held = []
    try:
        for _ in range(limit):
            try:
                s = connect(port, ctx)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                if not s.recv(4096).startswith(b"HTTP/1.1 200"):
                    break
            except (OSError, ssl.SSLError):
                break
            held.append(s)
        return len(held)
    finally:
        for s in held:
            s.close()
        stop(proc)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp)
        subprocess.run([ROOT / "tools" / "make-cert.sh", certs], check=True, capture_output=True)
        samples = {"plain": ([], []), "tls": ([], [])}
        for _ in range(ROUNDS):
            for kind in ("plain", "tls"):
                port = run.free_port()
                proc = serve(run.FIRMWARE, port, certs, kind == "tls")
                try:
                    ctx = client_context(certs) if kind == "tls" else None
                    samples[kind][0].append(connections_per_second(port, ctx))
                    samples[kind][1].append(keep_alive_rps("%s://127.0.0.1:%d/" % (
                        "https" if kind == "tls" else "http", port)))
                finally:
                    stop(proc)
        med = {k: (statistics.median(v[0]), statistics.median(v[1])) for k, v in samples.items()}
        per_tls = heap_per_connection(certs, True)
        per_plain = heap_per_connection(certs, False)
        fit = tls_connections_that_fit(certs)
    out = [
        "## TLS",
        "",
        "`bench/tls.py`: the unix firmware (Mbed TLS 3.6, as the esp32's) serving `tests/apps/ws_echo`"
        " with an EC P-256 certificate (`make cert`), server pinned to core 0 and client to core 1,"
        " medians of %d interleaved rounds of %d s. New connections: CPython's `ssl`, one request"
        " each; keep-alive: `wrk -t1 -c8`." % (ROUNDS, SECONDS),
        "",
        "| | plain HTTP | HTTPS | HTTPS / plain |",
        "|---|---:|---:|---:|",
        "| new connections/s (handshake + one request) | %.0f | %.0f | %.2f |" % (
            med["plain"][0], med["tls"][0], med["tls"][0] / med["plain"][0]),
        "| keep-alive requests/s | %.0f | %.0f | %.2f |" % (
            med["plain"][1], med["tls"][1], med["tls"][1] / med["plain"][1]),
        "",
        "Heap on the 32-bit device profile (`firmware/UNIX_DEVICE/kiln`, Mbed TLS allocating from the"
        " MicroPython heap; on an esp32 the same buffers come from ESP-IDF's heap): each open"
        " keep-alive connection beyond the first adds %.0f B over TLS and %.0f B in plain HTTP (its"
        " slot is reserved at start). With the ESP32 profile's 110 KB heap and 16 slots asked, %d"
        " TLS connections were open at once before a new one was refused." % (per_tls, per_plain, fit),
        "",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    if not os.path.exists(DEVICE):
        sys.exit("bench/tls.py: make unix-device first")
    main()
