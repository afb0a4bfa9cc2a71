#!/usr/bin/env python3
"""WebSocket: echo round trips per second and heap per open WebSocket, Kiln against Microdot
2.7.0's `microdot.websocket` on the same firmware (firmware/UNIX/kiln); prints a Markdown
section for bench/RESULTS.md (bench/run.py).

    .venv/bin/python bench/realtime.py
    .venv/bin/python bench/run.py --update realtime

Echo: bench/apps/kiln_ws.py and bench/apps/microdot_ws.py echo each message. The client is one
Python thread on raw non-blocking sockets (epoll) that sends one pre-built masked 32-byte text
frame per connection and, each time the whole echo is back (checked byte for byte), the next:
one message in flight per connection, with 1 and with 16 connections, ECHO_SECONDS each, after
a short warm-up. BENCH_ROUNDS rounds (default 3), servers interleaved, medians. Beside them, the
least a server can do per message: bench/apps/ideal_ws.c (C, epoll, one read() and one write()
per message), compiled here with the system's `cc`. Then the same with each server alone on
CPU 0 and the client on CPU 1 (`taskset`), with the client's own CPU per round trip: where the
client's core is full, the client, not the server, sets the rate.

Heap: `gc.mem_free()` after `gc.collect()` (the app's /heap route, read over one keep-alive
connection) before and after opening N connections, divided by N: idle keep-alive HTTP
connections (one GET each) and open WebSockets (one echo each, the view waiting in receive()).
The difference is what a WebSocket costs beyond the slot an HTTP connection already has. Also on
the 32-bit device firmware (firmware/UNIX_DEVICE/kiln, `make unix-device`) at the device
profiles' heap sizes and connection counts.

Hub fan-out (Kiln only: Microdot has no hub): FANOUT_SUBSCRIBERS WebSockets subscribed to one
topic through `hub.stream` (bench/apps/kiln_ws.py /feed), then FANOUT_MESSAGES messages
published one per turn of the loop; messages delivered per second, over all subscribers, from
the publish request to the last delivery, and the subscribers dropped for falling behind.
"""

import atexit
import os
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

ROOT = run.ROOT
DEVICE_FIRMWARE = ROOT / "firmware" / "UNIX_DEVICE" / "kiln"
ROUNDS = run.ROUNDS
ECHO_SECONDS = float(os.environ.get("BENCH_WS_SECONDS", "5"))
CLIENTS = (1, 16)
HEAP_CONNECTIONS = 16
FANOUT_SUBSCRIBERS = 100
FANOUT_MESSAGES = 200
# (label, heap, connections the server has, connections opened for the heap figures): the
# device profiles of bench/device_profiles.py
DEVICE_PROFILES = (("ESP32 profile (no SPIRAM)", "110k", 8, 6), ("ESP8266 profile", "38k", 4, 3))
MICRODOT = "Microdot %s" % run.fetch_microdot.VERSION
IDEAL = "Ideal echo server (C, epoll: bench/apps/ideal_ws.c)"

MESSAGE = b"0123456789abcdef" * 2
MASK = bytes((0x37, 0xFA, 0x21, 0x3D))
FRAME = bytes((0x81, 0x80 | len(MESSAGE))) + MASK + bytes(b ^ MASK[i & 3] for i, b in enumerate(MESSAGE))
REPLY = bytes((0x81, len(MESSAGE))) + MESSAGE
CLOSE = bytes((0x88, 0x82)) + MASK + bytes((0x03 ^ MASK[0], 0xE8 ^ MASK[1]))
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example: its answer is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
HANDSHAKE = (b"GET /echo HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def open_ws(port):
    """A WebSocket to /echo: the connected socket once the 101 is read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(HANDSHAKE)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)  # byte by byte: nothing after the head may be taken here
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101 ") or b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" not in head:
        raise RuntimeError("not a WebSocket handshake answer: %r" % head)
    return s


def echo_once(s):
    s.sendall(FRAME)
    got = b""
    while len(got) < len(REPLY):
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        got += chunk
    if got != REPLY:
        raise RuntimeError("wrong echo: %r" % got)


def close_all(socks, websocket=True):
    for s in socks:
        if websocket:
            try:
                s.sendall(CLOSE)
            except OSError:
                pass
        s.close()


def echo_rate(port, clients, seconds, pid=None):
    """Round trips per second with `clients` connections, one message in flight on each, the
    CPU time the server process `pid` used per round trip (µs; None without pid) and this
    client's (µs)."""
    socks = [open_ws(port) for _ in range(clients)]
    sel = selectors.DefaultSelector()
    try:
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
        for s in socks:
            s.send(FRAME)
        done = 0
        cpu = run.cpu_seconds(pid) if pid else 0
        client_cpu = time.process_time()
        start = time.monotonic()
        deadline = start + seconds
        while time.monotonic() < deadline:
            for key, _ in sel.select(1):
                data = key.fileobj.recv(65536)
                if not data:
                    raise ConnectionError("the server closed a WebSocket")
                buf = key.data
                buf += data
                while len(buf) >= len(REPLY):
                    if buf[:len(REPLY)] != REPLY:
                        raise RuntimeError("wrong echo: %r" % bytes(buf[:64]))
                    del buf[:len(REPLY)]
                    done += 1
                    key.fileobj.send(FRAME)
        elapsed = time.monotonic() - start
        client_cpu = (time.process_time() - client_cpu) * 1e6 / done
        cpu = (run.cpu_seconds(pid) - cpu) * 1e6 / done if pid else None
        return done / elapsed, cpu, client_cpu
    finally:
        sel.close()
        close_all(socks)


def echo_round(name, argv, cwd, pinned):
    """[echo_rate(...) for each of CLIENTS]; pinned: the server on CPU 0, this client on CPU 1."""
    cpus = os.sched_getaffinity(0)
    if pinned:
        argv = lambda port, a=argv: ["taskset", "-c", "0"] + a(port)  # noqa: E731
        os.sched_setaffinity(0, {1})
    try:
        with run.Server(name, argv, cwd) as s:
            echo_rate(s.port, 1, 0.5)  # warm-up: first allocations
            return [echo_rate(s.port, n, ECHO_SECONDS, s.proc.pid) for n in CLIENTS]
    finally:
        os.sched_setaffinity(0, cpus)


def ideal_server():
    """argv_for_port of bench/apps/ideal_ws.c compiled with the system's cc (None without cc)."""
    cc = shutil.which("cc")
    if not cc:
        return None
    where = tempfile.mkdtemp(prefix="kiln-ideal-ws-")
    atexit.register(shutil.rmtree, where, True)
    binary = os.path.join(where, "ideal_ws")
    subprocess.run([cc, "-O2", "-o", binary, str(run.BENCH / "apps" / "ideal_ws.c")], check=True)
    return lambda port: [binary, str(port)]


def echo_medians(servers, pinned):
    """{name: [(round trips/s, server CPU µs, client CPU µs per round trip), medians of ROUNDS
    interleaved rounds, for each of CLIENTS]}"""
    samples = {name: [] for name in servers}
    for _ in range(ROUNDS):
        for name, (argv, cwd) in servers.items():
            samples[name].append(echo_round(name, argv, cwd, pinned))
    return {name: [tuple(statistics.median(r[i][k] for r in runs) for k in range(3)) for i in range(len(CLIENTS))]
            for name, runs in samples.items()}


def microdot_row(medians):
    return medians[next(n for n in medians if n.startswith("Microdot"))]


def echo_table(medians):
    """Markdown rows of echo_medians, in brackets against Microdot's row."""
    base = microdot_row(medians)
    lines = ["| server | %s |" % " | ".join(
        "%d client%s: round trips/s | server CPU per round trip (µs) | client CPU per round trip (µs)"
        % (n, "s" if n > 1 else "") for n in CLIENTS), "|---|" + "---|---|---|" * len(CLIENTS)]
    for name, m in medians.items():
        lines.append("| %s | %s |" % (name, " | ".join(
            "%.0f (%.2f×) | %.1f (%.2f×) | %.1f (%.0f%% of a core)" % (
                rate, rate / brate, cpu, bcpu / cpu, ccpu, ccpu * rate / 1e4)
            for (rate, cpu, ccpu), (brate, bcpu, _) in zip(m, base, strict=True))))
    return lines


class Probe:
    """Reads the app's free heap, over one keep-alive connection when the server keeps it."""

    def __init__(self, url):
        self.url = url
        self.sock = None

    def free(self):
        self.sock, body = run.get(self.url, "/heap", self.sock)
        return int(body)

    def close(self):
        if self.sock:
            self.sock.close()


def idle_http(port):
    return run.get("http://127.0.0.1:%d" % port, "/")[0]


def open_echoed_ws(port):
    s = open_ws(port)
    echo_once(s)
    return s


def heap_per_connection(server, opener, n, websocket):
    """(free heap before, heap each of n connections made by opener(port) takes in bytes; None
    when the server closes them, having no keep-alive)."""
    probe = Probe(server.url)
    try:
        probe.free()
        before = probe.free()
        socks = [opener(server.port) for _ in range(n)]
        if any(s is None for s in socks):
            return before, None
        time.sleep(0.2)  # every view has reached its receive()
        after = probe.free()
        close_all(socks, websocket)
        time.sleep(0.3)
        return before, (before - after) / n
    finally:
        probe.close()


def heap_row(label, argv, cwd, n):
    """(label, free heap with the server up, heap per idle keep-alive connection, per open
    WebSocket)."""
    with run.Server(label, argv, cwd) as s:
        free, idle = heap_per_connection(s, idle_http, n, False)
        ws = heap_per_connection(s, open_echoed_ws, n, True)[1]
    return label, free, idle, ws


def device_app():
    """A folder with bench/apps/kiln_ws.py, for the device firmware."""
    where = Path(tempfile.mkdtemp(prefix="kiln-ws-bench-"))
    shutil.copy(run.BENCH / "apps" / "kiln_ws.py", where / "kiln_ws.py")
    return where


def device_argv(where, heap, connections):
    def argv(port):
        return [str(DEVICE_FIRMWARE), "-X", "heapsize=" + heap, str(where / "kiln_ws.py"), str(port),
                str(connections)]

    return argv


def device_heap_row(where, label, heap, connections, n):
    return heap_row("Kiln, 32-bit device firmware, %s: %s heap, %d connections, %d opened" % (
        label, heap, connections, n), device_argv(where, heap, connections), where, n)


def fanout_rate(port):
    """(messages delivered per second to all subscribers, subscribers dropped)."""
    subs = []
    for _ in range(FANOUT_SUBSCRIBERS):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(HANDSHAKE.replace(b"/echo", b"/feed"))
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        if not head.startswith(b"HTTP/1.1 101 "):
            raise RuntimeError("not a WebSocket handshake answer: %r" % head)
        s.setblocking(False)
        subs.append(s)
    deadline = time.monotonic() + 10
    while True:
        sock, stats = run.get("http://127.0.0.1:%d" % port, "/hubstats")
        if sock is not None:
            sock.close()
        if b'"subscribers": %d' % len(subs) in stats:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the subscribers did not all arrive: %r" % stats)
        time.sleep(0.05)
    frame_len = len(REPLY)  # 2-byte header + the 32-byte message
    want = FANOUT_MESSAGES * frame_len
    got = {s: 0 for s in subs}
    sel = selectors.DefaultSelector()
    for s in subs:
        sel.register(s, selectors.EVENT_READ)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"POST /fanout?n=%d HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n" % FANOUT_MESSAGES)
        t0 = time.monotonic()
        done = 0
        while done < len(subs) and time.monotonic() - t0 < 60:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                if not data:  # dropped (1013) and closed
                    sel.unregister(s)
                    done += 1
                    continue
                got[s] += len(data)
                if got[s] >= want:
                    sel.unregister(s)
                    done += 1
        elapsed = time.monotonic() - t0
    delivered = sum(min(n, want) for n in got.values()) // frame_len
    dropped = sum(1 for n in got.values() if n < want)
    close_all(subs)
    return delivered / elapsed, dropped


def ceiling_sentence(tables):
    """What the ideal echo server and this client reach against Microdot, over the (label,
    echo_medians) tables, the first one with the cores shared."""
    parts, rate_ratios, cpu_ratios = [], [], []
    for label, m in tables:
        figures = []
        for r, b, n in zip(m[IDEAL], microdot_row(m), CLIENTS, strict=True):
            rate_ratios.append(r[0] / b[0])
            cpu_ratios.append(b[1] / r[1])
            figures.append("%.2f× the rate and %.2f× less server CPU with %d client%s" % (
                r[0] / b[0], b[1] / r[1], n, "s" if n > 1 else ""))
        parts.append("%s: %s" % (label, ", ".join(figures)))
    shared = tables[0][1]
    # the client's core alone, at its CPU per round trip with the ideal server, as a rate
    client_ratios = [1e6 / r[2] / b[0] for r, b in zip(shared[IDEAL], microdot_row(shared), strict=True)]
    beyond = max(rate_ratios) < 10 and max(client_ratios) < 10
    return ("The ideal echo server against Microdot: %s. No server does less per message than its "
            "one read() and one write(). With this client the ideal server's rate is at most %.2f× "
            "Microdot's; the client's own CPU per round trip (with the ideal server, cores shared) "
            "would fill its core at %s Microdot's rate, whatever the server; the ideal server's CPU "
            "per round trip is at best %.2f× less than Microdot's. Issue #14's 10× Microdot's rate "
            "is %s with this client; 10× less server CPU than Microdot is %s." % (
                "; ".join(parts), max(rate_ratios), " and ".join(
                    "%.2f× (%d client%s)" % (c, n, "s" if n > 1 else "")
                    for c, n in zip(client_ratios, CLIENTS, strict=True)),
                max(cpu_ratios), "beyond any server" if beyond else "not ruled out",
                "beyond even the ideal server" if max(cpu_ratios) < 10 else "within the ideal server's reach"))


def section():
    md_dir = run.microdot_dir()
    shutil.copy(run.BENCH / "apps" / "microdot_ws.py", md_dir / "microdot_ws.py")
    servers = {"Kiln (App, `@with_websocket`)": (run.kiln("kiln_ws.py"), None)}
    servers[MICRODOT + " (`microdot.websocket`)"] = (
        lambda port: [str(run.FIRMWARE), str(md_dir / "microdot_ws.py"), str(port)], md_dir)
    ideal = ideal_server()
    if ideal:
        servers[IDEAL] = (ideal, None)
    medians = echo_medians(servers, pinned=False)
    base = microdot_row(medians)
    kiln = medians[next(n for n in medians if n.startswith("Kiln"))]
    echo_lines = echo_table(medians)
    pinned_lines, ceiling = [], []
    if shutil.which("taskset") and {0, 1} <= os.sched_getaffinity(0):
        pinned = echo_medians(servers, pinned=True)
        pinned_lines = ["The same with each server alone on CPU 0 and the client on CPU 1 (`taskset`); "
                        "there each process has a core of its own:", "", *echo_table(pinned), ""]
    if ideal:
        ceiling = [ceiling_sentence([("cores shared", medians)] + ([("pinned", pinned)] if pinned_lines else [])), ""]

    fan = []
    for _ in range(ROUNDS):
        with run.Server("fan-out", run.kiln("kiln_ws.py", "256")) as srv:
            fan.append(fanout_rate(srv.port))
    fan_rate = statistics.median(r for r, _ in fan)
    fan_dropped = max(d for _, d in fan)

    heap_rows = [heap_row("Kiln, unix firmware (64-bit), %d opened" % HEAP_CONNECTIONS, run.kiln("kiln_ws.py"),
                          None, HEAP_CONNECTIONS),
                 heap_row(MICRODOT + ", unix firmware (64-bit), %d opened" % HEAP_CONNECTIONS,
                          lambda port: [str(run.FIRMWARE), str(md_dir / "microdot_ws.py"), str(port)],
                          md_dir, HEAP_CONNECTIONS)]
    if DEVICE_FIRMWARE.exists():
        where = device_app()
        heap_rows += [device_heap_row(where, *p) for p in DEVICE_PROFILES]
        shutil.rmtree(where)
    # the goal is the devices': their rows when the device firmware was there, else Kiln's
    goal_rows = [r for r in heap_rows if "32-bit" in r[0]] or heap_rows[:1]
    beyond = max(ws - idle for _, _, idle, ws in goal_rows)
    heap_lines = ["| server | free heap, server up (bytes) | heap per idle keep-alive HTTP connection "
                  "(bytes) | heap per open WebSocket (bytes) | WebSocket beyond the HTTP connection "
                  "(bytes) |", "|---|---|---|---|---|"]
    for label, free, idle, ws in heap_rows:
        heap_lines.append("| %s | %d | %s | %.0f | %s |" % (
            label, free, "%.0f" % idle if idle is not None else "— (closes after each response)", ws,
            "%.0f" % (ws - idle) if idle is not None else "—"))

    return "\n".join([
        "## WebSocket", "",
        "`.venv/bin/python bench/run.py --update realtime` (bench/realtime.py): echo of a "
        "32-byte text message, one message in flight per connection, a one-thread raw-socket "
        "client with pre-built masked frames; %.0f s per figure, %d rounds, servers interleaved, "
        "medians; in brackets, against Microdot (for CPU: how many times less). The server CPU "
        "column (user + system time of the server process over the round trips it answered) "
        "depends less on the other load of a shared machine than the rate does; the client "
        "CPU column is this one-thread client's time per round trip and how much of a core that "
        "fills at that rate (near 100%%: the client sets the rate). Kiln and "
        "Microdot run on firmware/UNIX/kiln; the ideal echo server is bench/apps/ideal_ws.c, "
        "compiled here with `cc -O2`: C, epoll, the handshake, then one read() and one write() "
        "per message, nothing else." % (ECHO_SECONDS, ROUNDS), "",
        *echo_lines, "",
        *pinned_lines,
        *ceiling,
        "Issue #14's goal, echo at least 10× Microdot's: %s (Kiln's best ratio here: %.2f× the "
        "rate, %.2f× less server CPU)." % (
            "met" if min(r[0] / b[0] for r, b in zip(kiln, base, strict=True)) >= 10 else "not met",
            max(r[0] / b[0] for r, b in zip(kiln, base, strict=True)),
            max(b[1] / r[1] for r, b in zip(kiln, base, strict=True))), "",
        "Hub fan-out (Kiln's `kiln.hub`; Microdot has none): %d WebSockets subscribed through "
        "`hub.stream`, %d messages of 32 bytes published one per turn of the loop: %.0f messages "
        "delivered per second over all subscribers (median of %d rounds); subscribers dropped for "
        "falling behind: %d at most." % (FANOUT_SUBSCRIBERS, FANOUT_MESSAGES, fan_rate, ROUNDS,
                                          fan_dropped), "",
        "Heap: `gc.mem_free()` after a collection, before and after opening %d connections "
        "(fewer on the device profiles), divided by their number; a WebSocket has echoed one "
        "message and its view waits in `receive()`." % HEAP_CONNECTIONS, "",
        *heap_lines, "",
        "Issue #14's goal, at most 1 KB per WebSocket beyond the slot, on the device profiles "
        "where they were measured: %s (largest figure in the last column: %.0f bytes)." % (
            "met" if beyond <= 1024 else "not met", beyond), ""])


if __name__ == "__main__":
    print(section())
