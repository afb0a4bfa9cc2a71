# Microdot 2.7.0's WebSocket echo and /heap, as bench/apps/kiln_ws.py, on the same firmware.
import gc
import sys

from microdot import Microdot
from microdot.websocket import with_websocket

app = Microdot()


@app.get("/heap")
async def heap(request):
    gc.collect()
    return str(gc.mem_free())


@app.route("/echo")
@with_websocket
async def echo(request, ws):
    while True:
        await ws.send(await ws.receive())


app.run(host="127.0.0.1", port=int(sys.argv[1]))
