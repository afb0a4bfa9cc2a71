# A Kiln app that calls another server with kiln.client from its views: the test sets UPSTREAM
# (the serve fixture's setup code) to a CPython server's URL.
from kiln import App, client

app = App()
UPSTREAM = None


@app.get("/relay/<path:path>")
async def relay(request, path):
    try:
        resp = await client.get(UPSTREAM + "/" + path, timeout=2)
    except client.TimeoutError as e:
        return {"error": str(e)}, 504
    return {"status": resp.status, "body": await resp.text()}


@app.get("/ping")
def ping(request):
    return "pong"
