# The same hello page through the framework, plus a JSON route with an <int:id> converter.
# With "full" as the second argument, hooks and sessions are in place too (full_hooks.py).
import gc
import sys

from kiln import App

app = App()


@app.get("/")
def index(request):
    return "Hello, world!"


@app.get("/items/<int:id>")
def item(request, id):
    return {"id": id, "name": "item %d" % id, "price": id * 1.5}


# The JSON view's parts (bench/framework.py): the dynamic route with a constant answer, a str
# and the dict /items/42 builds, made once.
ITEM = {"id": 42, "name": "item 42", "price": 63.0}


@app.get("/k/<int:id>")
def constant_str(request, id):
    return "Hello, world!"


@app.get("/d/<int:id>")
def constant_dict(request, id):
    return ITEM


@app.get("/mem")
def mem(request):
    return str(gc.mem_alloc())


@app.get("/gc-off")
def gc_off(request):
    gc.collect()
    gc.disable()
    return str(gc.mem_alloc())


if len(sys.argv) > 2 and sys.argv[2] == "full":
    from full_hooks import add_hooks_and_sessions

    add_hooks_and_sessions(app)


app.run(host="127.0.0.1", port=int(sys.argv[1]))
