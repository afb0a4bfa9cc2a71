# Microdot 2.7.0 serving the same pages as kiln_app.py, on the same firmware.
import gc
import sys

from microdot import Microdot

app = Microdot()


@app.get("/")
async def index(request):
    return "Hello, world!"


@app.get("/items/<int:id>")
async def item(request, id):
    return {"id": id, "name": "item %d" % id, "price": id * 1.5}


@app.get("/mem")
async def mem(request):
    return str(gc.mem_alloc())


@app.get("/gc-off")
async def gc_off(request):
    gc.collect()
    gc.disable()
    return str(gc.mem_alloc())


app.run(host="127.0.0.1", port=int(sys.argv[1]))
