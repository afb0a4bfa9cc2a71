# An app started with `await app.start_server(...)` next to a background task of its own, then
# stopped from a request with app.shutdown(). The serve fixture calls `app.run(host, port)`, so
# `app` here is a small runner around the Kiln app.
import asyncio

from kiln import App

web = App()
state = {"ticks": 0}


@web.get("/ticks")
def ticks(request):
    return {"ticks": state["ticks"]}


async def stop_soon():
    await asyncio.sleep_ms(50)  # after the response has been sent
    web.shutdown()


@web.get("/shutdown")
def shutdown(request):
    asyncio.create_task(stop_soon())
    return "bye"


@web.get("/stop")
def stop(request):
    request.app.shutdown()  # the server closes once this response is on its way
    return "stopping"


async def background():
    while True:
        state["ticks"] += 1
        await asyncio.sleep_ms(10)


class Runner:
    def run(self, host, port):
        asyncio.run(self.main(host, port))
        print("stopped")

    async def main(self, host, port):
        task = asyncio.create_task(background())
        server = await web.start_server(host=host, port=port)
        await server.wait_closed()
        task.cancel()


app = Runner()
