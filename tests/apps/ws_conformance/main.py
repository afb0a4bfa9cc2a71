# Test app for tests/test_websocket.py: one WebSocket route per behaviour, and /stats, which
# reports the server's open connections and what the views saw, as JSON.
import asyncio
import gc

from kiln import App
from kiln.websocket import with_websocket

app = App()
# views that were cancelled, views whose `async for` ended, views still waiting, and views
# that went on after their close() returned
stats = {"cancelled": 0, "loop_ended": 0, "waiting": 0, "after_close": 0}
forever = asyncio.Event()  # never set: what /wait's view waits on


@app.route("/")
def index(request):
    return "ok"


@app.route("/stats")
def report(request):
    gc.collect()
    out = dict(stats)
    out["connections"] = app.server.connections
    out["mem_free"] = gc.mem_free()
    return out


@app.route("/echo")
@with_websocket(max_message=100000)
async def echo(request, ws):
    while True:
        await ws.send(await ws.receive())


@app.route("/any-method", methods=("GET", "POST"))
@with_websocket
async def any_method(request, ws):
    await ws.send(request.method)


@app.route("/small")
@with_websocket(max_message=1000)
async def small(request, ws):
    while True:
        await ws.send(await ws.receive())


@app.route("/slow")
@with_websocket
async def slow(request, ws):
    # slower than its client: the WebSocket's queue fills and reading pauses
    async for msg in ws:
        await asyncio.sleep_ms(10)
        await ws.send(msg)


@app.route("/proto")
@with_websocket(subprotocols=("chat", "superchat"))
async def proto(request, ws):
    await ws.send(ws.subprotocol or "-")
    await ws.receive()


@app.route("/origin")
@with_websocket(origin=lambda request: request.headers.get("Origin") == "http://good.test")
async def origin(request, ws):
    await ws.send("welcome")
    await ws.receive()


@app.route("/close")
@with_websocket
async def close(request, ws):
    await ws.close(4000, "bye now")


@app.route("/close-then")
@with_websocket
async def close_then(request, ws):
    await ws.close(4001)
    stats["after_close"] += 1


@app.route("/control-limits")
@with_websocket
async def control_limits(request, ws):
    # a ping or close payload over 125 bytes is refused before anything is sent
    for call in (lambda: ws.ping(b"p" * 126), lambda: ws.close(4000, "r" * 124)):
        try:
            await call()
        except ValueError:
            await ws.send("ValueError")
    await ws.ping(b"p" * 125)
    await ws.close(4000, "r" * 123)


@app.route("/raise")
@with_websocket
async def fails(request, ws):
    await ws.receive()
    raise ValueError("view failed on purpose")


@app.route("/return")
@with_websocket
async def returns(request, ws):
    await ws.send("done")


@app.route("/loop")
@with_websocket
async def loop(request, ws):
    async for msg in ws:
        await ws.send(msg)
    stats["loop_ended"] += 1


@app.route("/wait")
@with_websocket
async def wait(request, ws):
    stats["waiting"] += 1
    try:
        await ws.send("waiting")
        await forever.wait()
    except asyncio.CancelledError:
        stats["cancelled"] += 1
        raise
    finally:
        stats["waiting"] -= 1


@app.route("/ping")
@with_websocket(ping_interval=0.5, ping_timeout=1)
async def pinged(request, ws):
    async for msg in ws:
        await ws.send(msg)
