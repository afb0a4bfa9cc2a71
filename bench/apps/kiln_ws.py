# WebSocket echo for bench/websocket.py, and /heap: the free heap after a collection.
# argv: port [max_connections]
import gc
import sys

from kiln import App
from kiln.websocket import with_websocket

app = App()


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


config = {"max_connections": int(sys.argv[2])} if len(sys.argv) > 2 else {}
app.run(host="127.0.0.1", port=int(sys.argv[1]), **config)
