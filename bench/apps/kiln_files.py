# Files for bench/files.py: a folder served by app.static, one file by send_file, and the same
# 100 bytes as a bytes body (the cost a file response is compared with).
import gc
import sys

from kiln import App, send_file

app = App()
root = sys.argv[2]
SMALL = root + "/f100.bin"
with open(SMALL, "rb") as f:
    BODY = f.read()


@app.get("/bytes")
def body(request):
    return BODY


@app.get("/file")
def file(request):
    return send_file(SMALL)


@app.get("/mem")
def mem(request):
    return str(gc.mem_alloc())


app.static("/static", root)
app.run(host="127.0.0.1", port=int(sys.argv[1]))
