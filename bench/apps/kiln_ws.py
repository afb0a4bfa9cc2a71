# WebSocket echo for bench/realtime.py, /heap (the free heap after a collection), and the hub's
# fan-out: /feed subscribes a WebSocket to topic "t", POST /fanout?n=N publishes N messages.
# argv: port [max_connections]
import asyncio
import gc
import sys

from kiln import App
from kiln.hub import Hub
from kiln.websocket import with_websocket

app = App()
hub = Hub()


@app.get("/")
def index(request):
    return "Hello, world!"


@app.get("/heap")
def heap(request):
    gc.collect()
    return str(gc.mem_free())


@app.route("/echo")
@with_websocket
async def echo(request, ws):
    while True:
        await ws.send(await ws.receive())


@app.route("/feed")
@with_websocket
async def feed(request, ws):
    await hub.stream(ws, "t", maxlen=64)


async def publish(n):
    # one message a turn of the loop, each to every subscriber: the streams send between
    message = "0123456789abcdef" * 2
    for _ in range(n):
        hub.publish("t", message)
        await asyncio.sleep_ms(0)


@app.post("/fanout")
def fanout(request):
    asyncio.create_task(publish(int(request.args["n"])))
    return {"subscribers": hub.count("t"), "dropped": hub.dropped}


@app.get("/hubstats")
def hubstats(request):
    return {"subscribers": hub.count("t"), "dropped": hub.dropped}


config = {"max_connections": int(sys.argv[2])} if len(sys.argv) > 2 else {}
app.run(host="127.0.0.1", port=int(sys.argv[1]), **config)
