# The C loop alone: one plain handler, no routing. The ceiling the framework is measured against.
import gc
import sys

from kiln import server

HELLO = (200, (("Content-Type", "text/plain; charset=UTF-8"),), b"Hello, world!")


def handler(request):
    if request.path == "/mem":
        return 200, None, str(gc.mem_alloc())
    if request.path == "/gc-off":
        gc.collect()
        gc.disable()
        return 200, None, str(gc.mem_alloc())
    return HELLO


server.run(handler, host="127.0.0.1", port=int(sys.argv[1]))
