# Sessions, Basic/bearer auth, CORS and CSRF, through TestClient.
import binascii
import time

from kiln import App
from kiln.auth import BasicAuth, TokenAuth
from kiln.cors import CORS
from kiln.csrf import CSRF
from kiln.session import Session, get_session, hmac_sha256, with_session
from kiln.testing import TestClient


def test_hmac_sha256_known_vector():
    # RFC 4231 test case 2
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert binascii.hexlify(mac) == b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def session_app(secret, max_age=3600):
    app = App()
    Session(app, secret_key=secret, max_age=max_age)

    @app.get("/inc")
    @with_session
    def inc(request, session):
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.get("/peek")
    @with_session
    def peek(request, session):
        return str(session.get("n"))

    @app.get("/logout")
    @with_session
    async def logout(request, session):
        session.delete()
        return "bye"

    return app


def test_session_round_trip_and_logout():
    c = TestClient(session_app("s3cret"))
    assert c.get("/inc").text == "1"
    assert c.get("/inc").text == "2"
    res = c.get("/peek")
    assert res.text == "2" and res.getall("Set-Cookie") == []  # unchanged: no cookie sent
    cookie = c.cookies["session"]
    assert "HttpOnly" in c.get("/inc").headers["Set-Cookie"]
    assert c.get("/logout").text == "bye"
    assert "session" not in c.cookies
    assert c.get("/peek").text == "None"
    assert cookie


def test_session_tampering_and_wrong_key_refused():
    c = TestClient(session_app("s3cret"))
    c.get("/inc")
    body, sig = c.cookies["session"].rsplit(".", 1)
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    c.cookies["session"] = forged
    assert c.get("/peek").text == "None"
    c2 = TestClient(session_app("other-key"), cookies={"session": body + "." + sig})
    assert c2.get("/peek").text == "None"


def test_session_signature_must_be_canonical():
    from kiln.session import b64decode

    c = TestClient(session_app("s3cret"))
    c.get("/inc")
    body, sig = c.cookies["session"].rsplit(".", 1)
    raw = b64decode(sig)
    # Other spellings of the same signature bytes: padding, the spare low bits of the last
    # character, standard base64's "+/" for "-_".
    spellings = [sig + "=", sig + "==", sig.replace("-", "+").replace("_", "/") + "="]
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        other = sig[:-1] + ch
        if other != sig and b64decode(other) == raw:
            spellings.append(other)
    assert len(spellings) >= 6, spellings
    for other in spellings:
        assert TestClient(session_app("s3cret"), cookies={"session": body + "." + other}).get("/peek").text == "None"
    assert TestClient(session_app("s3cret"), cookies={"session": body + "." + sig}).get("/peek").text == "1"


def test_a_signed_payload_of_the_wrong_shape_is_no_session():
    import json

    from kiln.session import b64encode

    def signed(payload):
        body = b64encode(payload if type(payload) is bytes else json.dumps(payload).encode())
        return body + "." + b64encode(hmac_sha256(b"s3cret", body.encode()))

    soon = int(time.time()) + 60
    for payload in ([1, 2], "str", 7, None, {"d": {"n": 1}, "e": str(soon)}, {"d": {"n": 1}, "e": [soon]},
                    {"d": {"n": 1}, "e": 1.5e300}, {"d": [1], "e": soon}, {"d": "x", "e": soon},
                    b"\xff\xfe", b"{not json"):
        res = TestClient(session_app("s3cret"), cookies={"session": signed(payload)}).get("/peek")
        assert (res.status_code, res.text) == (200, "None"), payload
    res = TestClient(session_app("s3cret"), cookies={"session": signed({"d": {"n": 5}, "e": soon})}).get("/peek")
    assert res.text == "5"


def test_session_key_rotation_and_expiry():
    old = TestClient(session_app("old"))
    old.get("/inc")
    token = old.cookies["session"]
    rotated = TestClient(session_app(["new", "old"]), cookies={"session": token})
    assert rotated.get("/peek").text == "1"
    assert rotated.get("/inc").text == "2"
    assert rotated.cookies["session"] != token
    assert TestClient(session_app(["new"]), cookies={"session": rotated.cookies["session"]}).get("/peek").text == "2"
    short = TestClient(session_app("k", max_age=1))
    short.get("/inc")
    time.sleep(2.1)
    assert short.get("/peek").text == "None"


def auth_app():
    app = App()
    basic = BasicAuth()
    token = TokenAuth()

    @basic.authenticate
    def check(request, username, password):
        return username if (username, password) == ("ann", "pw") else None

    @token.authenticate
    async def check_token(request, value):
        return {"t1": "bot"}.get(value)

    @app.get("/basic")
    @basic
    def secret(request):
        return "hello " + request.g.current_user

    @app.get("/token")
    @token
    async def api(request):
        return "token " + request.g.current_user

    @app.get("/maybe")
    @basic.optional
    def maybe(request):
        return str(request.g.current_user)

    return app


def basic(user, password):
    return {"Authorization": "Basic " + binascii.b2a_base64(("%s:%s" % (user, password)).encode()).decode().strip()}


def test_basic_and_bearer_auth():
    c = TestClient(auth_app())
    res = c.get("/basic")
    assert res.status_code == 401 and res.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert c.get("/basic", headers=basic("ann", "bad")).status_code == 401
    assert c.get("/basic", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert c.get("/basic", headers=basic("ann", "pw")).text == "hello ann"
    assert c.get("/token").status_code == 401
    assert c.get("/token", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/token", headers={"Authorization": "Bearer t1"}).text == "token bot"
    assert c.get("/maybe").text == "None"
    assert c.get("/maybe", headers=basic("ann", "pw")).text == "ann"
    assert auth_app().url_for("secret") == "/basic"


def cors_app(**options):
    app = App()
    CORS(app, **options)

    @app.route("/data", methods=["GET", "PUT"])
    def data(request):
        return "data"

    return app


def test_cors_simple_and_preflight():
    c = TestClient(cors_app(allowed_origins=["https://a.example"], max_age=600, expose_headers=["X-Total"]))
    res = c.get("/data", headers={"Origin": "https://a.example"})
    assert res.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Origin" in res.headers["Vary"] and res.headers["Access-Control-Expose-Headers"] == "X-Total"
    assert "Access-Control-Allow-Origin" not in c.get("/data", headers={"Origin": "https://evil.example"}).headers
    assert "Access-Control-Allow-Origin" not in c.get("/data").headers
    res = c.options("/data", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "PUT",
                                      "Access-Control-Request-Headers": "X-Custom"})
    assert res.status_code == 204
    assert "PUT" in res.headers["Access-Control-Allow-Methods"]
    assert res.headers["Access-Control-Allow-Headers"] == "X-Custom"
    assert res.headers["Access-Control-Max-Age"] == "600"
    res = c.get("/nothing", headers={"Origin": "https://a.example"})
    assert res.status_code == 404 and res.headers["Access-Control-Allow-Origin"] == "https://a.example"


def test_cors_wildcard_and_credentials():
    res = TestClient(cors_app(allowed_origins="*")).get("/data", headers={"Origin": "https://x.example"})
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    try:
        cors_app(allowed_origins="*", allow_credentials=True)
    except ValueError:
        pass
    else:
        raise AssertionError("'*' with credentials was accepted")
    res = TestClient(cors_app(allowed_origins=["https://x.example"], allow_credentials=True,
                              allowed_methods=["GET"], allowed_headers=["A", "B"])).options(
        "/data", headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"})
    assert res.headers["Access-Control-Allow-Origin"] == "https://x.example"
    assert res.headers["Access-Control-Allow-Credentials"] == "true"
    assert res.headers["Access-Control-Allow-Methods"] == "GET"
    assert res.headers["Access-Control-Allow-Headers"] == "A, B"


def test_cors_origin_string_is_matched_whole_and_varies():
    c = TestClient(cors_app(allowed_origins="https://example.com", allow_credentials=True))
    res = c.get("/data", headers={"Origin": "https://example.co"})
    assert "Access-Control-Allow-Origin" not in res.headers
    assert res.headers["Vary"] == "Origin"
    res = c.get("/data", headers={"Origin": "https://example.com"})
    assert res.headers["Access-Control-Allow-Origin"] == "https://example.com"


def csrf_app():
    app = App()
    csrf = CSRF(app)

    @app.get("/form")
    def form(request):
        return csrf.token(request)

    @app.post("/submit")
    def submit(request):
        return "accepted"

    @app.post("/hook")
    @csrf.exempt
    def hook(request):
        return "exempt"

    @app.post("/hook-with-session")
    @with_session
    @csrf.exempt
    def hook_with_session(request, session):
        return "exempt too"

    return app


def test_csrf_double_submit():
    c = TestClient(csrf_app())
    assert c.post("/submit", form={"a": "1"}).status_code == 403
    token = c.get("/form").text
    assert len(token) == 32 and c.cookies["csrf_token"] == token
    assert c.get("/form").text == token
    assert c.post("/submit", form={"csrf_token": token}).text == "accepted"
    assert c.post("/submit", body="x", headers={"X-CSRF-Token": token}).text == "accepted"
    assert c.post("/submit", form={"csrf_token": "0" * 32}).status_code == 403
    res = c.post("/submit", form={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403
    assert TestClient(csrf_app()).post("/hook").text == "exempt"


def test_csrf_reads_the_form_token_whatever_the_media_type_case():
    c = TestClient(csrf_app())
    token = c.get("/form").text
    for ct in ("application/x-www-form-urlencoded", "Application/X-WWW-Form-URLEncoded",
               "application/x-www-form-urlencoded; charset=UTF-8", " APPLICATION/x-www-form-urlencoded ;charset=utf-8"):
        res = c.post("/submit", body="csrf_token=" + token, headers={"Content-Type": ct})
        assert res.text == "accepted", ct
    res = c.post("/submit", body="csrf_token=" + token, headers={"Content-Type": "text/plain"})
    assert res.status_code == 403


def test_csrf_token_lives_in_the_session_when_the_app_has_one():
    app = csrf_app()
    Session(app, secret_key="csrf-test")
    c = TestClient(app)
    token = c.get("/form").text
    assert len(token) == 32 and "csrf_token" not in c.cookies and "session" in c.cookies
    assert c.get("/form").text == token
    assert c.post("/submit", form={"csrf_token": token}).text == "accepted"
    planted = TestClient(app, cookies={"csrf_token": "1" * 32})
    assert planted.post("/submit", form={"csrf_token": "1" * 32}).status_code == 403
    assert TestClient(app).post("/hook-with-session").text == "exempt too"  # exempt, then wrapped


def test_a_verifier_returning_false_refuses():
    app = App()
    basic = BasicAuth()
    token = TokenAuth()

    @basic.authenticate
    def check(request, username, password):
        return username == "admin" and password == "secret"

    @token.authenticate
    def check_token(request, t):
        return t == "good"

    @app.get("/admin")
    @basic
    def admin(request):
        return "admin area"

    @app.get("/api")
    @token
    def api(request):
        return "api"

    c = TestClient(app)
    wrong = "Basic " + binascii.b2a_base64(b"admin:nope").decode().strip()
    right = "Basic " + binascii.b2a_base64(b"admin:secret").decode().strip()
    assert c.get("/admin", headers={"Authorization": wrong}).status_code == 401
    assert c.get("/admin", headers={"Authorization": right}).status_code == 200
    assert c.get("/api", headers={"Authorization": "Bearer bad"}).status_code == 401
    assert c.get("/api", headers={"Authorization": "Bearer good"}).status_code == 200


def test_session_tokens_without_expiry_and_empty_keys_are_refused():
    from kiln.session import Session

    forever = Session(secret_key="k", max_age=None)
    token = forever.encode({"user": "a"})
    assert forever.decode(token) == {"user": "a"}
    assert Session(secret_key="k").decode(token) is None  # max_age set now: an expiry is required
    long = Session(secret_key="k", max_age=10 ** 6).encode({"user": "a"})
    assert Session(secret_key="k", max_age=60).decode(long) is None
    try:
        Session(secret_key="")
    except ValueError:
        pass
    else:
        raise AssertionError("an empty secret_key was accepted")


def test_server_sent_events_format():
    from kiln.sse import with_sse

    app = App()

    @app.get("/events")
    @with_sse
    async def events(request, sse):
        await sse.send("hello")
        await sse.send({"a": 1}, event="update", event_id=7)
        await sse.send(b"two\nlines\r\nthree")
        await sse.send("still here", comment=True)
        await sse.send(3, retry=2.5)
        await sse.send("never", event="bad\nname")  # refused: the view fails, the stream ends

    res = TestClient(app).get("/events")
    assert res.status_code == 200 and res.headers["Content-Type"] == "text/event-stream"
    assert res.headers["Cache-Control"] == "no-cache"
    assert res.text == ('data: hello\n\n'
                        'id: 7\nevent: update\ndata: {"a": 1}\n\n'
                        'data: two\ndata: lines\ndata: three\n\n'
                        ': still here\n\n'
                        'retry: 2500\ndata: 3\n\n'), res.text


def test_server_sent_events_wait_for_a_slow_client():
    import asyncio

    from kiln.sse import SSE

    sent = []

    async def view(request, sse):
        for n in range(20):
            await sse.send(n)
            sent.append(n)

    async def main():
        stream = SSE(view, None, (), {})
        first = await stream.__anext__()  # starts the view
        await asyncio.sleep_ms(50)  # the client reads nothing for a while
        held = len(sent)
        rest = []
        while True:
            try:
                rest.append(await stream.__anext__())
            except StopAsyncIteration:
                return first, held, rest

    first, held, rest = asyncio.run(main())
    assert first == "data: 0\n\n" and held <= SSE.max_queued + 1, held
    assert len(rest) == 19 and rest[-1] == "data: 19\n\n" and sent == list(range(20))


def test_a_csrf_token_outlives_a_session_cleared_or_deleted_after_it_was_made():
    app = App()
    Session(app, secret_key="csrf-keep")
    csrf = CSRF(app)

    @app.get("/form-then-clear")
    def form_then_clear(request):
        token = csrf.token(request)
        get_session(request).clear()  # e.g. a fresh session at login
        return token

    @app.get("/logout-then-form")
    def logout_then_form(request):
        get_session(request).delete()
        return csrf.token(request)

    @app.post("/submit")
    def submit(request):
        return "accepted"

    for path in ("/form-then-clear", "/logout-then-form"):
        c = TestClient(app)
        token = c.get(path).text
        assert c.post("/submit", form={"csrf_token": token}).text == "accepted", path
