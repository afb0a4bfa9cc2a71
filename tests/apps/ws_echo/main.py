from kiln import App
from kiln.websocket import with_websocket

app = App()


@app.route("/")
def index(request):
    return "ok"


@app.route("/echo")
@with_websocket
async def echo(request, ws):
    async for msg in ws:
        await ws.send(msg)
