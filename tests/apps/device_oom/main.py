# An app that runs out of heap on purpose, for tests/test_device_profiles.py: /oom allocates until
# MemoryError, /hold keeps a few KB across an await (many clients at once fill the heap).
import asyncio

from kiln import App

app = App()


@app.get("/")
def index(request):
    return "ok"


@app.get("/oom")
def oom(request):
    hog = []
    while True:
        hog.append(bytearray(256))


@app.get("/hold")
async def hold(request):
    chunk = [bytearray(512) for _ in range(6)]
    await asyncio.sleep_ms(50)
    return "held %d" % len(chunk)
