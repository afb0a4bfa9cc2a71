# Test app for the loop: one plain handler that dispatches on the path, no framework.
import asyncio
import gc
import time

from kiln import server

HELLO = (200, [("Content-Type", "text/plain")], b"Hello, World!")
state = {"file": None, "mem": 0, "hog": None}


def endless():
    block = b"z" * 16384
    while True:
        yield block


def chunks():
    for i in range(5):
        yield "chunk %d;" % i


class AsyncChunks:
    def __init__(self, n):
        self.i = 0
        self.n = n

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.i == self.n:
            raise StopAsyncIteration
        self.i += 1
        await asyncio.sleep_ms(1)
        return b"async %d;" % self.i


async def sleepy(seconds):
    await asyncio.sleep(seconds)
    return 200, None, "slept"


class LyingReader:
    # A file-like body whose readinto claims more bytes than the buffer it was given.
    def readinto(self, buf):
        return len(buf) + 70000


def exhaust_heap():
    hog = []
    while True:
        hog.append(bytearray(1024))


async def upload(req):
    # Reads a streamed body chunk by chunk and answers its length and a checksum.
    total = 0
    check = 0
    while True:
        chunk = await req.stream.read(1000)
        if not chunk:
            break
        total += len(chunk)
        for b in chunk:
            check = (check * 31 + b) & 0xFFFFFF
    return 200, None, "%d %d" % (total, check)


def handle(req):
    path = req.path
    if path == "/":
        return HELLO
    if path == "/echo":
        info = "%s %s %s %s|" % (req.method, req.target, req.http_version, len(req.body))
        return 200, {"Content-Type": "text/plain"}, info.encode() + req.body
    if path == "/upload":
        if req.body is not None:
            return 200, None, "in memory %d" % len(req.body)
        return upload(req)
    if path == "/upload-ignored":
        return 200, None, "not read"
    if path == "/endless":
        return 200, None, endless()
    if path == "/stream":
        return 200, None, chunks()
    if path == "/agen":
        return 200, None, AsyncChunks(3)
    if path == "/file":
        return 200, [("Content-Type", "application/octet-stream")], open(state["file"], "rb")
    if path == "/big":
        return 200, None, b"x" * 100000
    if path == "/raise":
        raise ValueError("boom")
    if path == "/oom":
        exhaust_heap()
    if path == "/block":
        # a sync view that holds the loop (time.sleep, not asyncio.sleep)
        time.sleep(2)
        return HELLO
    if path == "/sleep":
        return sleepy(1)
    if path == "/async-raise":
        return sleepy(None)
    if path == "/badheader":
        return 200, {"X-Bad": "a\r\nInjected: yes"}, "no"
    if path == "/calls":
        # how often the handler ran for this path, and the X-Long header it got
        state["calls"] = state.get("calls", 0) + 1
        return 200, None, "%d %d" % (state["calls"], len(req.headers.get("x-long", "")))
    if path == "/header":
        return 200, {"Content-Type": "text/plain; charset=UTF-8"}, req.headers.get("x-obs", "-")
    if path == "/ctl-header":
        return 200, [("X-V", "a" + chr(int(req.query_string)) + "b")], "no"
    if path == "/bad-name":
        return 200, [("X V", "a")], "no"
    if path == "/te":
        # an app-set Transfer-Encoding: ?len -> bytes body, ?gen -> a generator, ?cl -> with
        # Content-Length, ?gzip -> another coding
        q = req.query_string
        headers = [("Transfer-Encoding", "gzip" if q == "gzip" else "Chunked")]
        if q == "cl":
            headers.append(("Content-Length", "2"))
        return 200, headers, chunks() if q == "gen" else b"ok"
    if path == "/cookies":
        return 200, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], ""
    if path == "/close":
        return 200, {"Connection": "close"}, "bye"
    if path == "/lying-reader":
        return 200, None, LyingReader()
    if path == "/switching":
        return 101, {"Upgrade": "websocket"}, None
    if path == "/nocontent":
        return 204, None, None
    if path == "/mem":
        gc.collect()
        return 200, None, "%d %d" % (gc.mem_alloc(), gc.mem_free())
    if path == "/mem/start":
        gc.collect()
        gc.disable()
        state["mem"] = gc.mem_alloc()
        return HELLO
    if path == "/mem/stop":
        used = gc.mem_alloc() - state["mem"]
        gc.enable()
        return 200, None, str(used)
    return 404, None, "not found"


class App:
    def run(self, host="0.0.0.0", port=8080, file=None, **config):
        state["file"] = file
        server.run(handle, host, port, **config)


app = App()
