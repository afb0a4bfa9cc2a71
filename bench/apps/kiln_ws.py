# WebSocket echo for bench/websocket.py, and /heap: the free heap after a collection.
# argv: port [max_connections [SHA-1 of the client's one key and the GUID, in hex]]
import gc
import sys

from kiln import App
from kiln.websocket import with_websocket

if len(sys.argv) > 3:
    # The 32-bit device firmware has no hashlib.sha1, and the pure-Python one kiln.websocket then
    # takes (_kiln_ws) allocates about 100 KB per handshake (bench/websocket.py shows what that
    # does): the harness gives the one digest its handshakes need, as a board's C sha1 would.
    import binascii

    import kiln.websocket

    class _Digest:
        value = binascii.unhexlify(sys.argv[3])

        def __init__(self, data):
            pass

        def digest(self):
            return self.value

    kiln.websocket.sha1 = _Digest

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
