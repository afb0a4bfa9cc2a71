"""The framework over real sockets: tests/apps/app_full served by the unix firmware."""

import base64
import http.client
import json
import socket
import time
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent / "apps" / "app_full"


@pytest.fixture
def server(serve):
    return serve(APP)


def request(server, method, path, body=None, headers=None):
    """One request on a fresh connection; returns (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        data = res.read()
        headers = {}
        for k, v in res.getheaders():
            k = k.lower()
            headers[k] = headers[k] + "\n" + v if k in headers else v
        return res.status, headers, data
    finally:
        conn.close()


def raw(server, data):
    """Send raw bytes, return everything the server answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(data)
        out = b""
        s.settimeout(1)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out and _complete(out):
                    break
        except socket.timeout:
            pass
    return out


def _complete(data):
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_of(response):
    return int(response.split(b" ", 2)[1])


def assert_console_line(server, text):
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if text in server.console():
            return
        time.sleep(0.05)
    raise AssertionError("%r not on the console:\n%s" % (text, server.console()))


# --- routing ---------------------------------------------------------------------------------


def test_routes_converters_and_json(server):
    assert request(server, "GET", "/")[2] == b"Hello, world!"
    status, headers, body = request(server, "GET", "/items/42")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"id": 42, "g": True}
    assert json.loads(request(server, "GET", "/users/bob/files/a/b.txt")[2]) == {"name": "bob", "rest": "a/b.txt"}
    assert request(server, "GET", "/re/abc")[2] == b"abc"
    assert request(server, "GET", "/re/abcd")[0] == 404
    assert request(server, "GET", "/items/x")[0] == 404
    assert json.loads(request(server, "GET", "/api/ping")[2]) == {"pong": True}


def test_404_405_head_options_and_trailing_slash(server):
    status, headers, body = request(server, "GET", "/missing")
    assert status == 404 and body == b"nothing at /missing" and headers["x-error-hook"] == "404"
    status, headers, _ = request(server, "DELETE", "/items/1")
    assert status == 405 and headers["allow"] == "GET, HEAD, OPTIONS"
    status, headers, body = request(server, "HEAD", "/items/1")
    assert status == 200 and body == b"" and headers["content-type"] == "application/json"
    status, headers, _ = request(server, "OPTIONS", "/echo")
    assert status == 204 and set(headers["allow"].split(", ")) == {"GET", "POST", "PUT", "HEAD", "OPTIONS"}
    status, headers, _ = request(server, "GET", "/trailing?q=1")
    assert status == 308 and headers["location"] == "/trailing/?q=1"
    assert request(server, "GET", "/trailing/")[2] == b"slash"


def test_hooks_short_circuit_and_error_handlers(server):
    status, headers, body = request(server, "GET", "/items/1?short=1")
    assert status == 299 and body == b"short-circuited" and headers["x-hooked"] == "yes"
    status, headers, body = request(server, "GET", "/abort")
    assert status == 418 and headers["x-error-hook"] == "418"
    status, _, body = request(server, "GET", "/div")
    assert status == 422 and json.loads(body) == {"error": "division"}


def test_unhandled_exception_500_traceback_on_console_server_lives(server):
    status, headers, body = request(server, "GET", "/boom")
    assert status == 500 and b"kaboom" not in body
    assert_console_line(server, "RuntimeError: kaboom")
    assert "Traceback" in server.console()
    assert request(server, "GET", "/")[0] == 200 and server.alive()


def test_debug_mode_puts_the_traceback_in_the_body(serve):
    server = serve(APP, run_args=", debug=True")
    status, _, body = request(server, "GET", "/boom")
    assert status == 500 and b"RuntimeError: kaboom" in body


def test_access_log_line(server):
    request(server, "GET", "/items/5?x=1")
    assert_console_line(server, "GET /items/5?x=1 200")


# --- requests --------------------------------------------------------------------------------


def test_args_json_cookies_client_addr(server):
    status, _, body = request(server, "POST", "/echo?a=1&a=x%20y", body=json.dumps({"k": [1]}),
                              headers={"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2"})
    assert status == 200
    assert json.loads(body) == {"method": "POST", "args": ["1", "x y"], "json": {"k": [1]},
                                "cookies": {"c1": "v1", "c2": "v2"}, "client": True}


def test_views_get_an_instance_of_the_apps_request_class(server):
    status, _, body = request(server, "GET", "/request-class", headers={"Host": "h"})
    assert status == 200
    assert json.loads(body) == {"app": True, "kiln": True, "note": "kept", "method": "GET", "host": "h"}


def test_malformed_json_400(server):
    status, _, body = request(server, "POST", "/echo", body=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert status == 400
    assert_console_line(server, "Kiln: 400 malformed JSON body (POST /echo)")
    assert request(server, "GET", "/")[0] == 200


def test_urlencoded_form(server):
    status, _, body = request(server, "POST", "/form", body="a=1&b=x+y&a=%C3%A9",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and json.loads(body) == {"form": {"a": ["1", "é"], "b": ["x y"]}}


def test_body_over_max_413(server):
    status, _, _ = request(server, "POST", "/echo", body=b"x" * 5000, headers={"Content-Type": "text/plain"})
    assert status == 413
    assert_console_line(server, "\nKiln: 413 Content Too Large from 127.0.0.1\n")  # the whole line
    assert request(server, "GET", "/")[0] == 200


def multipart(parts, boundary="kilnBoundary7"):
    out = b""
    for name, filename, data in parts:
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        out += b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (boundary.encode(), disp.encode(), data)
    return out + b"--%s--\r\n" % boundary.encode(), "multipart/form-data; boundary=" + boundary


@pytest.mark.parametrize("size,spooled", [(100, False), (3000, True)])
def test_multipart_upload(server, size, spooled):
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    body, ctype = multipart([("title", None, b"Report"), ("file", "r.bin", data)])
    status, _, out = request(server, "POST", "/upload", body=body, headers={"Content-Type": ctype})
    assert status == 200, out
    assert json.loads(out) == {"title": "Report", "filename": "r.bin", "size": size,
                               "sum": sum(data) % 65536, "spooled": spooled}


def test_malformed_multipart_400(server):
    body, ctype = multipart([("file", "r.bin", b"data")])
    for bad in (body[:-10], body.replace(b"Content-Disposition", b"X-Nothing"), b"junk"):
        status, _, _ = request(server, "POST", "/upload", body=bad, headers={"Content-Type": ctype})
        assert status == 400
    status, _, _ = request(server, "POST", "/upload", body=body, headers={"Content-Type": "multipart/form-data"})
    assert status == 400
    assert_console_line(server, "Kiln: 400 malformed multipart body")
    assert request(server, "GET", "/")[0] == 200


# --- responses -------------------------------------------------------------------------------


def test_async_and_streamed_bodies(server):
    assert request(server, "GET", "/async")[2] == b"awaited"
    status, headers, body = request(server, "GET", "/stream")
    assert body == b"".join(b"line %d\n" % i for i in range(5))
    assert request(server, "GET", "/astream")[2] == b"part0;part1;part2;"
    assert request(server, "GET", "/raw-file")[2] == (APP / "static" / "data.raw").read_bytes()


def test_server_sent_events_arrive_one_by_one(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        first = b""
        while b"tick 1" not in first:
            first += s.recv(65536)
        head = first.split(b"\r\n\r\n")[0].lower()
        assert b"content-type: text/event-stream" in head and b"transfer-encoding: chunked" in head
        assert b"tick 2" not in first  # the first event is sent before the next one exists
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            rest += s.recv(65536)
    stream = first + rest
    assert stream.count(b"data: tick") == 3 and b"id: 3\ndata: tick 3\n\n" in stream


def leave_event_stream(server, path, until):
    # read the stream until `until` appears, check its view runs, leave; the state once it ends
    before = json.loads(request(server, "GET", "/endless-events/state")[2])
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        got = b""
        while until not in got:
            got += s.recv(65536)
        assert json.loads(request(server, "GET", "/endless-events/state")[2])["running"] == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = json.loads(request(server, "GET", "/endless-events/state")[2])
        if state["running"] == 0:
            break
        time.sleep(0.05)
    return got, {"running": state["running"], "cancelled": state["cancelled"] - before["cancelled"]}


def test_a_client_that_leaves_an_event_stream_cancels_its_view(server):
    got, state = leave_event_stream(server, "/endless-events", b'data: {"n": 3}')
    assert got.count(b"event: count") >= 3 and state == {"running": 0, "cancelled": 1}
    assert request(server, "GET", "/")[0] == 200


def test_a_quiet_event_stream_finds_out_that_its_client_left(server):
    # the view sends nothing: the heartbeat comment (SSE.heartbeat, 0.5 s in this app) does
    got, state = leave_event_stream(server, "/quiet-events", b":\n\n")
    assert state == {"running": 0, "cancelled": 1}


def test_cookies_and_redirects(server):
    status, headers, _ = request(server, "GET", "/cookie")
    cookies = headers["set-cookie"].split("\n")
    assert "flavour=oat; Path=/; Max-Age=60; HttpOnly; SameSite=Lax" in cookies
    assert "second=2; Secure" in cookies
    status, headers, _ = request(server, "GET", "/redirect")
    assert status == 302 and headers["location"] == "/items/7"


@pytest.mark.parametrize("path", ["/bad-redirect?to=%0D%0ASet-Cookie:%20evil=1",
                                  "/bad-redirect?to=%0Aevil", "/bad-header?v=a%0D%0AX-Injected:%201"])
def test_crlf_in_redirect_or_header_refused(server, path):
    response = raw(server, b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    assert status_of(response) == 500
    head = response.split(b"\r\n\r\n")[0].lower()
    assert b"evil" not in head and b"x-injected" not in head
    assert_console_line(server, "refused header")
    assert request(server, "GET", "/")[0] == 200


# --- static files ----------------------------------------------------------------------------


def test_send_file_etag_range_and_304(server):
    data = (APP / "static" / "data.raw").read_bytes()
    status, headers, body = request(server, "GET", "/file")
    assert status == 200 and body == data and headers["cache-control"] == "max-age=30"
    assert headers["content-type"] == "application/octet-stream"
    etag = headers["etag"]
    assert request(server, "GET", "/file", headers={"If-None-Match": etag})[0] == 304
    assert request(server, "GET", "/file", headers={"If-Modified-Since": headers["last-modified"]})[0] == 304
    status, headers, body = request(server, "GET", "/file", headers={"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200] and headers["content-range"] == "bytes 100-199/2048"
    status, headers, _ = request(server, "GET", "/file", headers={"Range": "bytes=5000-"})
    assert status == 416 and headers["content-range"] == "bytes */2048"


def test_static_gzip_index_and_types(server):
    css = (APP / "static" / "style.css").read_bytes()
    status, headers, body = request(server, "GET", "/static/style.css", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and headers["content-type"] == "text/css"
    assert body == (APP / "static" / "style.css.gz").read_bytes()
    status, headers, body = request(server, "GET", "/static/style.css")
    assert body == css and "content-encoding" not in headers and "Accept-Encoding" in headers["vary"]
    assert request(server, "GET", "/static/sub/")[2] == b"<h1>sub index</h1>\n"
    status, headers, _ = request(server, "GET", "/static/sub?v=2")
    # 308 like a route's trailing-slash redirect (was 301), the query kept (issue 11)
    assert status == 308 and headers["location"] == "/static/sub/?v=2"


def test_a_path_too_long_for_the_regex_engine_is_not_found_not_a_500(server):
    # MicroPython's re recurses per character: a <path:> segment (a static mount too) of about
    # 1000 characters used to escape the App as "RuntimeError: maximum recursion depth" (500).
    for target in (b"/users/bob/files/" + b"a" * 1900, b"/static/" + b"a/" * 900):
        response = raw(server, b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % target)
        assert status_of(response) == 404, target[:30]
    assert request(server, "GET", "/users/bob/files/" + "a" * 300)[0] == 200
    assert "handler error" not in server.console() and "recursion" not in server.console()


@pytest.mark.parametrize("target", [
    b"/static/../main.py", b"/static/%2e%2e/main.py", b"/static/%2E%2E/%2e%2e/etc/passwd",
    b"/static/sub/../../main.py", b"/static//etc/passwd", b"/static/..%2fmain.py",
    b"/static/style.css%00.txt", b"/static/..%5cmain.py",
])
def test_static_path_escapes_refused(server, target):
    response = raw(server, b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % target)
    assert status_of(response) in (400, 404), response[:200]
    assert b"import asyncio" not in response and b"root:" not in response
    assert request(server, "GET", "/")[0] == 200 and server.alive()


# --- batteries -------------------------------------------------------------------------------


def test_session_cookie_round_trip(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/count")
        res = conn.getresponse()
        assert res.read() == b"1"
        cookie = res.getheader("Set-Cookie").split(";")[0]
        assert cookie.startswith("session=") and "HttpOnly" in res.getheader("Set-Cookie")
        conn.request("GET", "/count", headers={"Cookie": cookie})
        res = conn.getresponse()
        assert res.read() == b"2"
        forged = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        conn.request("GET", "/count", headers={"Cookie": forged})
        assert conn.getresponse().read() == b"1"
    finally:
        conn.close()


def test_basic_and_bearer_auth(server):
    status, headers, _ = request(server, "GET", "/private")
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    good = "Basic " + base64.b64encode(b"ann:secret").decode()
    assert request(server, "GET", "/private", headers={"Authorization": good})[2] == b"hi ann"
    bad = "Basic " + base64.b64encode(b"ann:wrong").decode()
    assert request(server, "GET", "/private", headers={"Authorization": bad})[0] == 401
    assert request(server, "GET", "/bot", headers={"Authorization": "Bearer tok-123"})[2] == b"hi robot"
    assert request(server, "GET", "/bot", headers={"Authorization": "Bearer nope"})[0] == 401


def test_cors_preflight_and_simple_request(server):
    status, headers, _ = request(server, "OPTIONS", "/echo", headers={
        "Origin": "http://allowed.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type"})
    assert status == 204
    assert headers["access-control-allow-origin"] == "http://allowed.example"
    assert headers["access-control-allow-credentials"] == "true"
    assert "PUT" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "Content-Type"
    _, headers, _ = request(server, "GET", "/", headers={"Origin": "http://allowed.example"})
    assert headers["access-control-allow-origin"] == "http://allowed.example" and "Origin" in headers["vary"]
    _, headers, _ = request(server, "GET", "/", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in headers


def test_csrf_on_form_posts(server):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert request(server, "POST", "/forms/submit", body="x=1", headers=form)[0] == 403
    status, headers, token = request(server, "GET", "/forms/token")
    cookie = headers["set-cookie"].split(";")[0]
    assert cookie.startswith("session=")  # the app has sessions: the token is kept in one
    status, _, body = request(server, "POST", "/forms/submit", body="x=1&csrf_token=" + token.decode(),
                              headers=dict(form, Cookie=cookie))
    assert status == 200 and body == b"submitted 1"
    assert request(server, "POST", "/forms/submit", body="x=1&csrf_token=" + "0" * 32,
                   headers=dict(form, Cookie=cookie))[0] == 403
    planted = "csrf_token=" + "1" * 32  # a cookie another site managed to set does not help
    assert request(server, "POST", "/forms/submit", body="x=1&csrf_token=" + "1" * 32,
                   headers=dict(form, Cookie=planted))[0] == 403
    # CSRF is local to the mounted forms app: other posts need no token
    assert request(server, "POST", "/form", body="a=1", headers=form)[0] == 200


# --- what the console and the client see (issue 11 item 6, issue 13) ---------------------------


def test_shutdown_from_a_view_stops_app_run_after_answering(server):
    status, _, body = request(server, "GET", "/shutdown")
    assert (status, body) == (200, b"bye")
    assert server.proc.wait(5) == 0
    assert "Traceback" not in server.console()


def test_a_view_returning_something_unanswerable_logs_route_and_type(server):
    status, _, body = request(server, "GET", "/unanswerable")
    assert status == 500 and b"Traceback" not in body
    assert_console_line(server, "Kiln: GET /unanswerable returned float\n")
    assert "Traceback" not in server.console()


def test_a_client_leaving_during_a_streamed_body_is_one_console_line(server):
    boundary = "b0undary"
    head = ("POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n"
            "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: 3000\r\n\r\n"
            % (base64.b64encode(b"alice:secret").decode(), boundary))
    part = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
            % boundary).encode() + b"x" * 1500  # over max_body_length: the body is streamed
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(head.encode() + part)
            time.sleep(0.2)  # the view is reading the body when the client goes
    assert_console_line(server, "Kiln: the client left during the body (POST /upload)\n")
    time.sleep(0.2)
    console = server.console()
    assert console.count("Kiln: the client left during the body (POST /upload)\n") == 2, console
    assert "Traceback" not in console and "EOFError" not in console, console
    assert "POST /upload 500" not in console and " 500 " not in console, console
    assert request(server, "GET", "/")[0] == 200  # the server goes on
