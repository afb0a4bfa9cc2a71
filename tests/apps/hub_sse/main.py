# kiln.hub over real sockets (tests/test_hub.py): event streams and WebSockets fed by one Hub,
# a publish endpoint, and the hub's counts.
from kiln import App
from kiln.hub import Hub
from kiln.sse import SSE, with_sse
from kiln.websocket import with_websocket

SSE.heartbeat = 0.2  # a quiet stream finds out soon that its client has left
app = App()
hub = Hub()


@app.get("/events")
@with_sse
async def events(request, sse):
    # ?topic=a&topic=b, or every topic without one
    await hub.stream(sse, *request.args.getlist("topic"), maxlen=4)


@app.route("/ws")
@with_websocket
async def feed(request, ws):
    await hub.stream(ws, *request.args.getlist("topic"), maxlen=4)


@app.post("/publish")
def publish(request):
    # {"topic": "t", "n": 1, "pad": 100}: the event is {"n": 1, "pad": "xxx..."}
    body = request.json
    data = {"n": body["n"], "pad": "x" * body.get("pad", 0)}
    return {"delivered": hub.publish(body["topic"], data)}


@app.get("/stats")
def stats(request):
    return {"count": hub.count(), "dropped": hub.dropped}
