# Typed use of Kiln's public API, checked by `make typecheck` against the stubs (it is also a
# plain Kiln app: tests/test_stubs.py runs it in the firmware, so what it calls exists).
import asyncio

import _kiln
import kiln.client
import kiln.dns
import kiln.net
import kiln.ota
import kiln.portal
import kiln.slots
from kiln import App, HTTPException, Request, Response, abort, redirect, render_template, send_file, url_for
from kiln.auth import BasicAuth, TokenAuth
from kiln.client import ClientError
from kiln.client import Response as ClientResponse
from kiln.cors import CORS
from kiln.csrf import CSRF
from kiln.hub import Hub, Subscription
from kiln.mqtt import MQTTClient
from kiln.multipart import FileUpload, with_form_data
from kiln.outbox import Outbox
from kiln.routing import register_converter
from kiln.session import Session, SessionDict, get_session, with_session
from kiln.sse import SSE, with_sse
from kiln.template import Template, add_filter
from kiln.testing import TestClient, TestResponse
from kiln.websocket import ConnectionClosed, WebSocket, with_websocket

app = App(name="check")
api = App(name="api")
Session(app, secret_key=["new key", "old key"])
CORS(app, allowed_origins=["https://example.com"], allow_credentials=True)
basic = BasicAuth()
token = TokenAuth()
register_converter("hex", "[0-9a-f]+", lambda s: int(s, 16), lambda n: "%x" % n)
add_filter("shout", lambda s: str(s).upper() + "!")
Request.max_content_length = 64 * 1024


@basic.authenticate
def check_user(request: Request, username: str, password: str) -> str | None:
    return username if password == "secret" else None


@token.authenticate
def check_token(request: Request, value: str) -> str | None:
    return "robot" if value == "t0ken" else None


@app.before_request
def before(request: Request) -> None:
    request.g.started = True


@app.after_request
def after(request: Request, response: Response) -> Response:
    response.headers["X-Checked"] = "1"
    return response


@app.get("/")
def index(request: Request) -> str:
    name: str = request.args.get("name", "world")
    limit: int = request.args.get("limit", 10, type=int)
    return "Hello, %s! (%d)" % (name, limit)


@app.get("/hex/<hex:n>")
def hexed(request: Request, n: int) -> dict[str, int]:
    return {"n": n}


@app.post("/items")
async def create(request: Request) -> tuple[object, int, dict[str, str]]:
    if request.json is None:
        abort(400, "expected JSON")
    return request.json, 201, {"Location": url_for("index")}


@app.get("/private")
@basic
def private(request: Request) -> str:
    return "hi"


@app.get("/robots")
@token
def robots(request: Request) -> str:
    return "beep"


@app.post("/upload")
@with_form_data
def upload(request: Request) -> dict[str, object]:
    f: FileUpload | None = request.files.get("file")
    if f is None:
        abort(400)
    return {"name": f.filename, "size": f.size, "title": request.form.get("title") if request.form else None}


@app.get("/visits")
@with_session
def visits(request: Request, session: SessionDict) -> str:
    session["n"] = session.get("n", 0) + 1
    session.save()
    return str(get_session(request)["n"])


@app.get("/events")
@with_sse
async def events(request: Request, sse: SSE) -> None:
    await sse.send({"hello": "world"}, event="greeting")


@app.get("/ws")
@with_websocket(max_message=4096, subprotocols=("v1",))
async def socket(request: Request, ws: WebSocket) -> None:
    try:
        while True:
            message = await ws.receive()
            await ws.send(message if isinstance(message, str) else bytes(message))
    except ConnectionClosed as e:
        print(e.code, e.reason, ws.subprotocol)


hub = Hub()


@app.get("/hub-events")
@with_sse
async def hub_events(request: Request, sse: SSE) -> None:
    await hub.stream(sse, "temp", latest=True)


@app.get("/file")
def a_file(request: Request) -> Response:
    return send_file("check_api.py", max_age=60)


@app.get("/page")
def page(request: Request) -> object:
    return render_template("index.html", title="Home", posts=[])


@app.get("/old")
def old(request: Request) -> Response:
    res = redirect("/")
    res.set_cookie("seen", "1", max_age=60, http_only=True, same_site="Lax")
    return res


@api.get("/ping")
def ping(request: Request) -> dict[str, bool]:
    return {"pong": True}


@app.errorhandler(404)
def not_found(request: Request) -> tuple[dict[str, str], int]:
    return {"error": "not found"}, 404


@app.errorhandler(HTTPException)
def http_error(request: Request, exc: HTTPException) -> tuple[str, int]:
    return exc.reason or "error", exc.status_code


app.mount(api, url_prefix="/api")
CSRF(App())
assert Template("{{ x|shout }}").render(x="a") == "A!"
assert isinstance(_kiln.version(), str)
assert _kiln.url_decode("a+b%21", True) == "a b!"
assert _kiln.parse_qs("a=1&b=2") == [("a", "1"), ("b", "2")]
parsed = _kiln.Parser().feed(b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n")
assert parsed is not None and parsed.path == "/x" and parsed.headers.get("host") == "a"

client = TestClient(app)
res: TestResponse = client.get("/?name=Kiln&limit=3")
assert res.status_code == 200 and res.text == "Hello, Kiln! (3)", res.text
assert client.get("/hex/ff").json == {"n": 255}
assert client.post("/items", json={"a": 1}).status_code == 201
assert client.get("/private").status_code == 401
assert client.get("/api/ping").json == {"pong": True}
assert client.get("/visits").text == "1" and client.get("/visits").text == "2"
assert client.get("/nowhere").json == {"error": "not found"}

# On the device (what needs no WiFi): the portal's DNS answer, URLs, the upload MAC, the slots.
query = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01"
reply: bytes | None = kiln.dns.answer(query, bytes([10, 0, 0, 1]))
assert reply is not None and reply.endswith(bytes([10, 0, 0, 1]))
assert kiln.net.addresses("10.0.0.2", "lamp", 8080)[0] == "http://10.0.0.2:8080/"
assert len(kiln.ota.mac(b"0123456789abcdef", "app", kiln.ota.nonce(), "0" * 64, 1)) == 64
assert kiln.slots.folder(kiln.slots.other("a")) == "app_b" and kiln.slots.load()["current"] in kiln.slots.SLOTS
sub: Subscription = hub.subscribe("temp", maxlen=2)
assert hub.publish("temp", {"c": 21}) == 1 and hub.count("temp") == 1
sub.close()
assert sub.closed and not sub.dropped and hub.count() == 0 and hub.dropped == 0
assert kiln.portal.valid_hostname("lamp") and not kiln.portal.valid_hostname("-lamp")

# Reporting (no broker here: publish says it was not delivered, and the reading waits on flash).
box = Outbox("outbox", max_records=10)
assert box.put({"t": 21.5}) and box.pending == 1
mqtt = MQTTClient("check-api", "127.0.0.1", keepalive=30, clean=False, will=("s/status", "offline", 1, True))


async def send(record: bytes) -> bool:
    return await mqtt.publish("s/readings", record, qos=1)


assert asyncio.run(box.drain(send)) == 0 and box.peek(1) == [b'{"t": 21.5}'] and not mqtt.connected


async def forward(url: str, reading: dict[str, float]) -> int:
    # What a board reporting to an API does: post a reading, stream the answer.
    resp: ClientResponse = await kiln.client.post(url, json=reading, headers={"X-Board": "check"}, timeout=5)
    async with resp:
        size = 0
        async for piece in resp.iter_chunked(256):
            size += len(piece)
    return resp.status if resp.headers.get("content-type") else size


try:
    asyncio.run(forward("ftp://example.com/", {"t": 21.5}))
except ClientError as e:
    assert "not an http:// or https:// URL" in str(e)
print("check_api: ok")
