# What a handler may return, cookies, redirects and refused headers, through TestClient.
import time

from kiln import App, Response, redirect
from kiln.testing import TestClient

# 2024-03-01 12:00:00 UTC as a timestamp of the port's own epoch (1970 on unix, 2000 on the ESPs)
MARCH_2024 = 1709294400 - (946684800 if time.gmtime(0)[0] == 2000 else 0)


def make_app():
    app = App()

    @app.get("/text")
    def text(request):
        return "héllo"

    @app.get("/bytes")
    def raw(request):
        return b"\x00\x01"

    @app.get("/json-list")
    def json_list(request):
        return [1, "two", None]

    @app.get("/created")
    def created(request):
        return {"ok": True}, 201

    @app.get("/headers")
    def with_headers(request):
        return "x", 202, {"X-One": "1", "content-type": "text/csv"}

    @app.get("/headers-only")
    def headers_only(request):
        return "y", {"X-Two": "2"}

    @app.get("/status-only")
    def status_only(request):
        return 204

    @app.get("/response")
    def response(request):
        res = Response("made", 200, {"X-Made": "yes"})
        res.set_cookie("a", "1", max_age=60, path="/", http_only=True, secure=True, same_site="Strict")
        res.set_cookie("b", "2", expires=MARCH_2024, domain="example.com")
        res.delete_cookie("old")
        return res

    @app.get("/gen")
    def gen(request):
        def chunks():
            for i in range(3):
                yield "chunk%d;" % i

        return chunks()

    @app.get("/agen")
    async def agen(request):
        class Count:
            def __init__(self):
                self.n = 0

            def __aiter__(self):
                return self

            async def __anext__(self):
                self.n += 1
                if self.n > 3:
                    raise StopAsyncIteration
                return b"a%d" % self.n

        return Count()

    @app.get("/go")
    def go(request):
        return redirect("/text")

    @app.get("/evil-redirect")
    def evil_redirect(request):
        return redirect("/x\r\nSet-Cookie: pwned=1")

    @app.get("/evil-header")
    def evil_header(request):
        return "x", 200, {"X-Evil": "a\nb"}

    @app.get("/evil-cookie")
    def evil_cookie(request):
        res = Response("x")
        res.set_cookie("c", "v\r\nX: y")
        return res

    return app


def test_bodies_and_status_shapes():
    c = TestClient(make_app())
    res = c.get("/text")
    assert res.status_code == 200 and res.text == "héllo"
    assert res.headers["Content-Type"].startswith("text/plain")
    assert c.get("/bytes").body == b"\x00\x01"
    res = c.get("/json-list")
    assert res.json == [1, "two", None] and res.headers["Content-Type"] == "application/json"
    res = c.get("/created")
    assert res.status_code == 201 and res.json == {"ok": True}
    res = c.get("/headers")
    assert res.status_code == 202 and res.headers["X-One"] == "1"
    assert res.headers["Content-Type"] == "text/csv", res.header_list
    assert len(res.getall("content-type")) == 1
    res = c.get("/headers-only")
    assert res.status_code == 200 and res.headers["X-Two"] == "2" and res.body == b"y"
    assert c.get("/status-only").status_code == 204


def test_cookies_all_attributes():
    res = TestClient(make_app()).get("/response")
    cookies = res.getall("Set-Cookie")
    assert cookies[0] == "a=1; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Strict", cookies
    assert cookies[1] == "b=2; Domain=example.com; Expires=Fri, 01 Mar 2024 12:00:00 GMT", cookies
    assert cookies[2].startswith("old=; Expires=Thu, 01 Jan 1970") and "Max-Age=0" in cookies[2]
    assert res.headers["X-Made"] == "yes"


def test_cookie_jar_round_trip():
    app = App()

    @app.get("/set")
    def set_(request):
        res = Response("set")
        res.set_cookie("token", "abc")
        return res

    @app.get("/read")
    def read(request):
        return request.cookies.get("token", "none")

    @app.get("/forget")
    def forget(request):
        res = Response("gone")
        res.delete_cookie("token")
        return res

    c = TestClient(app)
    assert c.get("/read").text == "none"
    c.get("/set")
    assert c.get("/read").text == "abc"
    c.get("/forget")
    assert c.get("/read").text == "none"


def test_streamed_bodies():
    c = TestClient(make_app())
    assert c.get("/gen").body == b"chunk0;chunk1;chunk2;"
    assert c.get("/agen").body == b"a1a2a3"


def test_redirects_and_refused_headers():
    c = TestClient(make_app())
    res = c.get("/go")
    assert res.status_code == 302 and res.headers["Location"] == "/text"
    for path in ("/evil-redirect", "/evil-header", "/evil-cookie"):
        res = c.get(path)
        assert res.status_code == 500, (path, res.status_code)
        assert "pwned" not in res.headers and "X" not in res.headers


def test_header_rules_are_the_parsers():
    # One definition, in C: what kiln.response refuses is what _kiln.Parser refuses coming in.
    import _kiln
    from kiln.response import NoCaseDict, check_header

    for value in ("a\x0bb", "a\x0cb", "a\x7fb", "a\x01", "a\rb", "a\nb", "a\x00b"):
        try:
            check_header("X-V", value)
        except ValueError:
            pass
        else:
            raise AssertionError("accepted %r" % value)
        try:
            _kiln.Parser().feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-V: %s\r\n\r\n" % value.encode())
        except ValueError:
            pass
        else:
            raise AssertionError("parser accepted %r" % value)
    for name in ("X V", "X:V", "", "X\xe9", "X(1)"):
        try:
            NoCaseDict()[name] = "v"
        except ValueError:
            pass
        else:
            raise AssertionError("accepted name %r" % name)
    check_header("X-V", "a\tb caf\xe9 \"q\"")
    assert _kiln.header_ok(b"X-V", b"\x80\xff") and not _kiln.header_ok("X-V", b"\x0b")


def test_cookie_attributes_cannot_smuggle_other_attributes():
    from kiln import Response

    for attrs in ({"path": "/; Domain=evil.example"}, {"domain": "a.example; Secure"},
                  {"same_site": "Lax; Domain=evil.example"}):
        try:
            Response("x").set_cookie("a", "b", **attrs)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % attrs)


def test_a_view_returning_something_unanswerable_is_answered_500():
    # the console line (route and type) is checked over a socket, tests/test_app_framework.py
    app = App()
    answers = {"/int": 42, "/float": 1.5, "/object": object(), "/tuple": (3.5, 201)}

    for path, value in answers.items():
        app.get(path, endpoint=path[1:])(lambda request, value=value: value)

    c = TestClient(app)
    for path in answers:
        res = c.get(path)
        assert res.status_code == 500, (path, res.status_code, res.body)
    assert c.get("/int").body == b"Internal Server Error"
