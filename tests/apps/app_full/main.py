# One app exercising every framework feature, served over real sockets by tests/test_app_*.py.
import asyncio

from kiln import App, Request, Response, abort, redirect, send_file, url_for
from kiln.auth import BasicAuth, TokenAuth
from kiln.cors import CORS
from kiln.csrf import CSRF
from kiln.multipart import with_form_data
from kiln.session import Session, with_session
from kiln.sse import SSE, with_sse

Request.max_content_length = 4096
Request.max_file_memory = 256
Request.max_body_length = 1024

app = App(access_log=True)
api = App(name="api")
Session(app, secret_key=["current-secret", "old-secret"], max_age=600)
CORS(app, allowed_origins=["http://allowed.example"], allow_credentials=True)
basic = BasicAuth()
token = TokenAuth()
forms = App(name="forms")
csrf = CSRF(forms)


@basic.authenticate
def check_user(request, username, password):
    return username if password == "secret" else None


@token.authenticate
def check_token(request, value):
    return "robot" if value == "tok-123" else None


@app.before_request
def before(request):
    request.g.started = True
    if request.args.get("short") == "1":
        return "short-circuited", 299


@app.after_request
def after(request, response):
    response.headers["X-Hooked"] = "yes"
    return response


@app.after_error_request
def after_error(request, response):
    response.headers["X-Error-Hook"] = str(response.status_code)


@app.errorhandler(ZeroDivisionError)
def zero(request, exc):
    return {"error": "division"}, 422


@app.errorhandler(404)
def not_found(request):
    return "nothing at " + request.path, 404


@app.get("/")
def index(request):
    return "Hello, world!"


@app.get("/request-class")
def request_class(request):
    request.note = "kept"
    return {"app": isinstance(request, app._request), "kiln": isinstance(request, Request),
            "note": request.note, "method": request.method, "host": request.headers["Host"]}


@app.get("/items/<int:item_id>")
def item(request, item_id):
    return {"id": item_id, "g": request.g.started}


@app.get("/users/<name>/files/<path:rest>")
def user_file(request, name, rest):
    return {"name": name, "rest": rest}


@app.get("/re/<re:[a-z][a-z][a-z]:code>")
def re_route(request, code):
    return code


@app.route("/echo", methods=["GET", "POST", "PUT"])
def echo(request):
    return {"method": request.method, "args": request.args.getlist("a"), "json": request.json,
            "cookies": request.cookies, "client": request.client_addr is not None}


@app.post("/form")
def form(request):
    return {"form": {k: request.form.getlist(k) for k in request.form}}


@app.post("/upload")
@with_form_data
async def upload(request):
    f = request.files["file"]
    data = f.read()
    return {"title": request.form.get("title"), "filename": f.filename, "size": f.size,
            "sum": sum(data) % 65536, "spooled": f.spool_path is not None}


@app.get("/async")
async def slow(request):
    await asyncio.sleep(0.01)
    return "awaited"


@app.get("/stream")
def stream(request):
    def gen():
        for i in range(5):
            yield "line %d\n" % i

    return gen()


class Countdown:
    # An async iterator (MicroPython has no async generators): three chunks, awaiting between.
    def __init__(self):
        self.n = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n == 3:
            raise StopAsyncIteration
        await asyncio.sleep(0)
        self.n += 1
        return b"part%d;" % (self.n - 1)


@app.get("/astream")
async def astream(request):
    return Countdown()


@app.get("/events")
@with_sse
async def events(request, sse):
    for n in range(1, 4):
        if n > 1:
            await asyncio.sleep(0.3)
        await sse.send("tick %d" % n, event_id=n)


ENDLESS = {"running": 0, "cancelled": 0}
SSE.heartbeat = 0.5  # quiet streams find out soon that their client has left


async def watched(work):
    # run an event stream's work, counting the running views and the cancelled ones
    ENDLESS["running"] += 1
    try:
        await work
    except asyncio.CancelledError:
        ENDLESS["cancelled"] += 1
        raise
    finally:
        ENDLESS["running"] -= 1


async def count_forever(sse):
    n = 0
    while True:
        n += 1
        await sse.send({"n": n}, event="count")
        await asyncio.sleep(0.05)


@app.get("/endless-events")
@with_sse
async def endless_events(request, sse):
    await watched(count_forever(sse))


@app.get("/quiet-events")
@with_sse
async def quiet_events(request, sse):
    await watched(asyncio.sleep(3600))


@app.get("/endless-events/state")
def endless_state(request):
    return ENDLESS


@app.get("/file")
def file(request):
    return send_file("static/data.raw", max_age=30)


@app.get("/raw-file")
def raw_file(request):
    return open("static/data.raw", "rb")


@app.get("/redirect")
def go(request):
    return redirect(url_for("item", item_id=7))


@app.get("/bad-redirect")
def bad_redirect(request):
    return redirect("/x" + request.args.get("to", ""))


@app.get("/bad-header")
def bad_header(request):
    return "x", 200, {"X-Value": request.args.get("v", "")}


@app.get("/abort")
def aborted(request):
    abort(418)


@app.get("/boom")
def boom(request):
    raise RuntimeError("kaboom")


@app.get("/div")
def div(request):
    return 1 // 0


@app.get("/unanswerable")
def unanswerable(request):
    return 1.5


@app.get("/shutdown")
def shutdown(request):
    request.app.shutdown()
    return "bye"


@app.get("/cookie")
def cookie(request):
    res = Response("cookie set")
    res.set_cookie("flavour", "oat", max_age=60, path="/", http_only=True, same_site="Lax")
    res.set_cookie("second", "2", secure=True)
    return res


@app.get("/count")
@with_session
def count(request, session):
    session["n"] = session.get("n", 0) + 1
    return str(session["n"])


@app.get("/private")
@basic
def private(request):
    return "hi " + request.g.current_user


@app.get("/bot")
@token
def bot(request):
    return "hi " + request.g.current_user


@app.get("/trailing/")
def trailing(request):
    return "slash"


@api.get("/ping")
def ping(request):
    return {"pong": True}


@forms.get("/token")
def csrf_token(request):
    return csrf.token(request)


@forms.post("/submit")
def submit(request):
    return "submitted " + request.form.get("x", "")


app.mount(api, url_prefix="/api")
app.mount(forms, url_prefix="/forms", local=True)
app.static("/static", "static", max_age=60)
