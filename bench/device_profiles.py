#!/usr/bin/env python3
"""Device budgets: the heap each example leaves and needs on the 32-bit device profile of the
unix firmware (firmware/UNIX_DEVICE/kiln, `make unix-device`); prints a Markdown section for
bench/RESULTS.md (bench/run.py).

    .venv/bin/python bench/device_profiles.py

Two profiles on that firmware: ESP8266, `-X heapsize=38k` (the port's whole GC heap) and at
most 4 connections; ESP32 without SPIRAM, `-X heapsize=110k` and 8 connections. For each app:
the free heap after importing it, once the server is up, and after 1,000 keep-alive requests
spread over the profile's connections; the heap each idle keep-alive connection adds; and the
smallest heap (binary search over `-X heapsize` in KB) at which the app answers a burst of 40
clients at once (each gets its page or a 503) and then 100 requests one after the other, twice
in a row on fresh servers. Heap figures come from `gc.mem_free()` after `gc.collect()`, through
a `/__heap` route the harness adds to the app.
"""

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from http_client import Conn  # noqa: E402

FIRMWARE = ROOT / "firmware" / "UNIX_DEVICE" / "kiln"
PROFILES = (("ESP8266", 38, 4), ("ESP32 (no SPIRAM)", 110, 8))
BURST = 40

# (name, app folder, path, a bytes string its page contains)
APPS = (
    ("hello", "examples/hello", "/", b"Hello, world!"),
    ("rest_api", "examples/rest_api", "/api/items", b"[]"),
    ("blog", "examples/blog", "/post/1", b"<h1>Hello, Kiln</h1>"),
    ("static_site", "examples/static_site", "/", b"<!doctype html>"),
    ("upload", "examples/upload", "/", b"<form method=\"post\""),
    ("template page (tests/apps)", "tests/apps/template_page", "/", b"<h1>Kiln blog</h1>"),
    ("dashboard (tests/apps)", "tests/apps/device_dashboard", "/", b"<h1>Dashboard</h1>"),
)

SETUP = (
    "import sys, gc; sys.path.insert(0, '.'); import main; gc.collect(); "
    "print('heap after import', gc.mem_free()); "
    "main.app.get('/__heap')(lambda r: (gc.collect(), str(gc.mem_free()))[1]); "
    "main.app.run(host='127.0.0.1', port=%d, max_connections=%d)"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The device firmware serving an app on 127.0.0.1 with a given heap (KB) and connections."""

    def __init__(self, app_dir, heap_kb, connections):
        self.port = free_port()
        self.console = None
        self.proc = subprocess.Popen(
            [str(FIRMWARE), "-X", "heapsize=%dk" % heap_kb, "-c", SETUP % (self.port, connections)],
            cwd=ROOT / app_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("did not start")
            if one(self.port, "/__heap")[0] == 200:
                return
            time.sleep(0.05)

    def stop(self):
        """Stops the server (once); returns its console."""
        if self.console is None:
            self.proc.kill()
            self.console = self.proc.communicate()[0]
        return self.console

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Client:
    """One keep-alive connection; get() returns (status, body), raises OSError when closed."""

    def __init__(self, port):
        self.conn = Conn(port, timeout=10)

    def get(self, path):
        self.conn.request(path)
        try:
            status, _, body, _ = self.conn.response()
        except EOFError as e:
            raise ConnectionResetError("closed") from e
        return status, body

    def close(self):
        self.conn.close()


def heap(client):
    return int(client.get("/__heap")[1])


def one(port, path):
    try:
        c = Client(port)
        try:
            return c.get(path)
        finally:
            c.close()
    except OSError:
        return None, b""


def serves(app_dir, path, expect, heap_kb, connections):
    """A burst of BURST clients at once (each answered with the page or a 503), then 100 requests
    one after the other on new connections, each answered with the page."""
    try:
        with Server(app_dir, heap_kb, connections) as s:
            with ThreadPoolExecutor(BURST) as pool:
                burst = list(pool.map(lambda _: one(s.port, path), range(BURST)))
            if not all(st == 503 or (st == 200 and expect in body) for st, body in burst):
                return False
            for _ in range(100):
                st, body = one(s.port, path)
                if st != 200 or expect not in body:
                    return False
            return s.proc.poll() is None
    except (OSError, RuntimeError):
        return False


def smallest_heap(app_dir, path, expect, connections, low=8, high=192):
    """The smallest heap in KB that serves twice in a row (near the edge a run can go either
    way): a binary search for the first that serves once, then upwards until one serves twice."""
    if not serves(app_dir, path, expect, high, connections):
        return None
    while low < high:
        mid = (low + high) // 2
        if serves(app_dir, path, expect, mid, connections):
            high = mid
        else:
            low = mid + 1
    while not serves(app_dir, path, expect, low, connections):
        low += 1
    return low


def budget(app_dir, path, expect, heap_kb, connections):
    """(free after import, free with the server up, free after 1,000 requests, bytes per idle
    keep-alive connection) in the profile, or None where the app does not fit."""
    try:
        with Server(app_dir, heap_kb, connections) as s:
            probe = Client(s.port)
            up = heap(probe)
            clients = [Client(s.port) for _ in range(connections - 1)] + [probe]
            for i in range(1000):
                st, body = clients[i % connections].get(path)
                if st != 200 or expect not in body:
                    raise RuntimeError("wrong answer")
            after = heap(probe)
            # what the other connections hold while idle: the heap once they are closed, less
            # the heap while they were open (first-use imports and caches count in neither)
            for c in clients[:-1]:
                c.close()
            time.sleep(0.3)
            per_conn = (heap(probe) - after) / (connections - 1)
            probe.close()
            out = s.stop()
    except (OSError, RuntimeError):
        return None
    imported = int(next(x for x in out.splitlines() if x.startswith("heap after import")).split()[-1])
    return imported, up, after, per_conn


def slot_heap(heap_kb, connections):
    """Bytes the server reserves per connection slot when it starts: hello's heap with the
    server up, with two slots and with `connections`."""
    up = []
    for n in (2, connections):
        with Server("examples/hello", heap_kb, n) as s:
            probe = Client(s.port)
            up.append(heap(probe))
            probe.close()
    return (up[0] - up[1]) / (connections - 2)


def fmt(n):
    return "—" if n is None else "{:,}".format(int(n))


def main():
    if not FIRMWARE.exists():
        sys.exit("device_profiles: %s is missing; run make unix-device" % FIRMWARE)
    out = [
        "## Device budgets — heap", "",
        "The 32-bit device profile of the unix firmware (`firmware/UNIX_DEVICE/kiln`, "
        "boards/UNIX_DEVICE: `MICROPY_FORCE_32BIT=1`, the ESP8266 port's feature level; "
        "`bench/device_profiles.py`). Free heap (`gc.mem_free()` after `gc.collect()`, bytes): "
        "after importing the app; with the server up and one connection open; after 1,000 "
        "keep-alive requests spread over the profile's connections (all left open). Per "
        "connection: what each idle keep-alive connection holds beyond its slot, which the "
        "server reserved when it started (buffers, connection object, worker task), from the "
        "heap before and after closing all but one. Smallest heap: the smallest `-X heapsize` "
        "(KB) at which the app answers a burst of %d clients (the page or a 503 each), then "
        "100 requests one after the other, twice in a row; that small a heap holds fewer "
        "connections than the profile's (slots take at most half of the free heap). A real "
        "ESP8266 image has about 1 KB less free after boot than this profile at 38k." % BURST, ""]
    for name, heap_kb, connections in PROFILES:
        out += ["### %s: `-X heapsize=%dk`, %d connections" % (name, heap_kb, connections), "",
                "Reserved per connection slot when the server starts: %s bytes (hello)." % fmt(
                    slot_heap(heap_kb, connections)), "",
                "| app | free after import | server up | after 1,000 requests | per idle connection "
                "| smallest heap |", "|---|---|---|---|---|---|"]
        for app, app_dir, path, expect in APPS:
            print("device_profiles: %s, %s" % (name, app), file=sys.stderr)
            b = budget(app_dir, path, expect, heap_kb, connections) or (None,) * 4
            small = smallest_heap(app_dir, path, expect, connections)
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                app, *(fmt(x) for x in b), "> 192 KB" if small is None else "%d KB" % small))
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
