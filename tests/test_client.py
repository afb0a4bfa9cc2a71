"""kiln.client, run in the unix firmware against real servers on 127.0.0.1 started here: CPython's
http.server (plain and TLS, with certificates from tools/make-cert.sh), raw sockets that
misbehave on purpose, and Kiln itself serving examples/rest_api."""

import json
import socket
import ssl
import subprocess
import textwrap
import threading
import time
import urllib.error
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT, run_upy

BIG = 1024 * 1024


def big_byte(i):
    return (i * 7 + i // 1000) % 256


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        seen = {"method": self.command, "path": self.path, "body": body,
                "x-test": self.headers.get("X-Test"), "content-type": self.headers.get("Content-Type"),
                "authorization": self.headers.get("Authorization"), "host": self.headers.get("Host")}
        self.reply(200, json.dumps(seen).encode(), [("Content-Type", "application/json"), ("X-Reply", "yes")])

    def do_GET(self):
        path = self.path
        if path.startswith("/echo"):
            self.echo()
        elif path == "/dir/start":
            self.reply(302, headers=[("Location", "next?x=1")])
        elif path == "/to-echo-abs":
            self.reply(301, headers=[("Location", "/echo/abs")])
        elif path == "/loop":
            self.reply(302, headers=[("Location", "/loop")])
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello, ", b"chunked ", b"world" * 100):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(0.01)
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        elif path == "/until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"no length, " * 50 + b"end")
            self.close_connection = True
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            self.wfile.write(bytes(big_byte(i) for i in range(BIG)))
        elif path == "/stall-head":
            time.sleep(3)
            self.reply(200, b"late")
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            time.sleep(4)
        else:
            self.reply(404, b"nope")

    def do_POST(self):
        if self.path == "/see-other":
            self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(303, headers=[("Location", "/echo/after-303")])
        elif self.path == "/temporary":
            self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(307, headers=[("Location", "/echo/after-307")])
        else:
            self.echo()

    do_PUT = do_POST
    do_DELETE = do_POST


def start_http(context=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def http():
    server = start_http()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def https(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / "cert.pem", certs / "key.pem")
    server = start_http(ctx)
    yield "https://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def raw_server(reply, answer=True):
    """A server that reads the request and sends `reply` bytes as they are (then closes), or,
    with answer=False, accepts and never answers. Returns its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        while True:
            conn, _ = listener.accept()
            if not answer:
                threading.Timer(8, conn.close).start()
                continue
            conn.recv(65536)
            conn.sendall(reply)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return "http://127.0.0.1:%d" % listener.getsockname()[1]


def client_run(body, heapsize=None, timeout=60):
    """Run `body` (the inside of an async function, kiln.client imported as `client`) in the
    firmware; return its stdout lines (an uncaught exception fails the test)."""
    code = ("import asyncio, json\nfrom kiln import client\nasync def main():\n%s\nasyncio.run(main())\n"
            % textwrap.indent(textwrap.dedent(body), "    "))
    proc = run_upy(code, heapsize=heapsize, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def raised(body, heapsize=None):
    """Run `body` expecting an exception; return "ExceptionName: message"."""
    lines = client_run("try:\n%s\nexcept Exception as e:\n    print('raised ' + type(e).__name__ + ': ' + str(e))\n"
                       % textwrap.indent(textwrap.dedent(body), "    "), heapsize)
    at = [i for i, line in enumerate(lines) if line.startswith("raised ")]
    assert at, lines
    return " ".join(lines[at[-1]:])[len("raised "):].strip()


def test_get_json_with_headers_both_ways(http):
    out = client_run("""
        r = await client.get(%r, headers={"X-Test": "from upy"})
        print(r.status, r.headers["x-reply"], r.headers["Content-Type"], "X-REPLY" in r.headers)
        print(json.dumps(await r.json()))
    """ % (http + "/echo/get"))
    assert out[0] == "200 yes application/json True"
    seen = json.loads(out[1])
    assert seen["method"] == "GET" and seen["x-test"] == "from upy" and seen["body"] == ""
    assert seen["host"] == http[len("http://"):]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_json_body_round_trip(http, method):
    out = client_run("""
        r = await client.%s(%r, json={"t": 21.5, "ok": True})
        print(json.dumps(await r.json()))
    """ % (method, http + "/echo/json"))
    seen = json.loads(out[0])
    assert seen["method"] == method.upper()
    assert json.loads(seen["body"]) == {"t": 21.5, "ok": True}
    assert seen["content-type"] == "application/json"


def test_data_body_keeps_the_callers_content_type(http):
    out = client_run("""
        r = await client.post(%r, data="a=1", headers={"content-type": "text/plain"})
        print(json.dumps(await r.json()))
    """ % (http + "/echo/data"))
    seen = json.loads(out[0])
    assert seen["body"] == "a=1" and seen["content-type"] == "text/plain"


def test_chunked_body_is_decoded(http):
    out = client_run("""
        r = await client.get(%r)
        print(repr(await r.text()))
        print(repr(await r.read()))
    """ % (http + "/chunked"))
    assert out == [repr("hello, chunked " + "world" * 100), "b''"]


def test_chunked_body_in_pieces_never_crosses_the_size(http):
    out = client_run("""
        r = await client.get(%r)
        sizes = []
        async for piece in r.iter_chunked(64):
            sizes.append(len(piece))
        print(max(sizes), sum(sizes))
    """ % (http + "/chunked"))
    assert out == ["64 %d" % len("hello, chunked " + "world" * 100)]


def test_body_without_length_is_read_until_close(http):
    out = client_run("""
        r = await client.get(%r)
        print(repr(await r.text()))
    """ % (http + "/until-close"))
    assert out == [repr("no length, " * 50 + "end")]


def test_relative_redirect_is_resolved_against_the_answering_url(http):
    out = client_run("""
        r = await client.get(%r)
        print(r.status, r.url)
    """ % (http + "/dir/start"))
    # /dir/next?x=1 is not served: the 404 proves where the client went
    assert out == ["404 %s/dir/next?x=1" % http]


def test_absolute_path_redirect_is_followed(http):
    out = client_run("""
        r = await client.get(%r)
        print(r.status, json.loads(await r.read())["path"])
    """ % (http + "/to-echo-abs"))
    assert out == ["200 /echo/abs"]


def test_303_turns_a_post_into_a_get_without_body(http):
    out = client_run("""
        r = await client.post(%r, json={"a": 1})
        print(json.dumps(await r.json()))
    """ % (http + "/see-other"))
    seen = json.loads(out[0])
    assert (seen["method"], seen["path"], seen["body"], seen["content-type"]) == ("GET", "/echo/after-303", "", None)


def test_307_repeats_the_method_and_body(http):
    out = client_run("""
        r = await client.post(%r, json={"a": 1})
        print(json.dumps(await r.json()))
    """ % (http + "/temporary"))
    seen = json.loads(out[0])
    assert (seen["method"], seen["path"], json.loads(seen["body"])) == ("POST", "/echo/after-307", {"a": 1})


def test_redirect_loop_beyond_max_redirects_raises(http):
    error = raised("await client.get(%r, max_redirects=3)" % (http + "/loop"))
    assert error.startswith("ClientError: more than 3 redirects")


def test_max_redirects_zero_returns_the_redirect(http):
    out = client_run("""
        r = await client.get(%r, max_redirects=0)
        print(r.status, r.headers["location"])
    """ % (http + "/loop"))
    assert out == ["302 /loop"]


def test_redirect_to_another_host_drops_authorization(http):
    # 127.0.0.1 and localhost are different hosts to the client, the same server here
    port = http.rsplit(":", 1)[1]
    target = raw_server(b"HTTP/1.1 307 Temporary\r\nLocation: http://localhost:%s/echo/x\r\n"
                        b"Content-Length: 0\r\n\r\n" % port.encode())
    out = client_run("""
        r = await client.get(%r, headers={"Authorization": "Bearer s3cret", "X-Test": "kept"})
        print(json.dumps(await r.json()))
    """ % (target + "/"))
    seen = json.loads(out[0])
    assert seen["authorization"] is None and seen["x-test"] == "kept"


def test_connect_to_a_full_backlog_times_out_within_the_bound():
    # a listener that never accepts, its accept queue filled: the kernel drops further SYNs
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(4)]
    for s in fillers:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    time.sleep(0.2)
    try:
        start = time.monotonic()
        error = raised("await client.get('http://127.0.0.1:%d/', timeout=1)" % port)
        assert time.monotonic() - start < 5
    finally:
        for s in fillers + [listener]:
            s.close()
    assert error == "TimeoutError: connect to 127.0.0.1:%d: no answer within 1 s" % port


def test_every_failure_closes_its_connection(http):
    # the firmware's open descriptors before and after a connect timeout, a read timeout, a
    # malformed head, a cut body, a body left unread and closed, and a body read to its end
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = [socket.socket() for _ in range(4)]
    for s in fillers:
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
    time.sleep(0.2)
    urls = [
        "http://127.0.0.1:%d/" % listener.getsockname()[1],
        raw_server(b"", answer=False),
        raw_server(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
        raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    ]
    try:
        out = client_run("""
            import os
            before = len(os.listdir("/proc/self/fd"))
            for url in %r:
                try:
                    await (await client.get(url, timeout=0.5)).read()
                except client.ClientError as e:
                    print(type(e).__name__)
            r = await client.get(%r)
            await r.read(10)
            await r.close()
            await (await client.get(%r)).read()
            print(len(os.listdir("/proc/self/fd")) - before)
        """ % (urls, http + "/big", http + "/echo/x"))
    finally:
        for s in fillers + [listener]:
            s.close()
    assert out == ["TimeoutError", "TimeoutError", "ClientError", "ClientError", "0"]


def test_redirect_to_another_port_drops_authorization(http):
    target = raw_server(b"HTTP/1.1 302 Found\r\nLocation: %s/echo/x\r\nContent-Length: 0\r\n\r\n" % http.encode())
    out = client_run("""
        r = await client.get(%r, headers={"Authorization": "Bearer s3cret", "Cookie": "a=1"})
        print(json.dumps(await r.json()))
    """ % (target + "/"))
    assert json.loads(out[0])["authorization"] is None


def test_server_that_never_answers_times_out_within_the_bound():
    url = raw_server(b"", answer=False)
    start = time.monotonic()
    error = raised("await client.get(%r, timeout=1)" % url)
    assert error.startswith("TimeoutError: read: no answer within 1 s")
    assert time.monotonic() - start < 5


def test_server_stalling_mid_body_times_out(http):
    start = time.monotonic()
    out = client_run("""
        r = await client.get(%r, timeout=1)
        print(r.status, await r.read(10))
        try:
            await r.read()
        except client.TimeoutError as e:
            print("timeout", isinstance(e, client.ClientError))
    """ % (http + "/stall"))
    assert out == ["200 b'0123456789'", "timeout True"]
    assert time.monotonic() - start < 4


@pytest.mark.parametrize("reply, message", [
    (b"garbage\r\n\r\n", "ClientError: bad status line: 'garbage'"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "ClientError: bad status line"),
    (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "ClientError: bad header field"),
    (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "ClientError: bad header field"),
    (b"HTTP/1.1 200 OK\r\n X-Folded: x\r\n\r\n", "ClientError: bad header field"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", "ClientError: bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", "ClientError: response head longer than 4096"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "ClientError: connection closed before a complete response head"),
])
def test_malformed_response_head_raises_a_clear_error(reply, message):
    assert raised("await client.get(%r)" % raw_server(reply)).startswith(message)


@pytest.mark.parametrize("body, message", [
    (b"zz\r\nhello\r\n0\r\n\r\n", "ClientError: bad chunk size"),
    (b"0x5\r\nhello\r\n0\r\n\r\n", "ClientError: bad chunk size"),
    (b"-5\r\nhello\r\n0\r\n\r\n", "ClientError: bad chunk size"),
    (b"123456789\r\nhello\r\n0\r\n\r\n", "ClientError: bad chunk size"),
    (b"5\r\nhelloXX0\r\n\r\n", "ClientError: bad end of chunk"),
    (b"5\r\nhel", "ClientError: connection closed inside the body"),
])
def test_malformed_chunked_body_raises_a_clear_error_and_closes(body, message):
    url = raw_server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    out = client_run("""
        r = await client.get(%r)
        try:
            await r.read()
        except client.ClientError as e:
            print("ClientError: " + str(e))
        print(repr(await r.read()))
    """ % url)
    assert out[0].startswith(message) and out[1] == "b''", out


def test_interim_100_continue_is_skipped():
    url = raw_server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert client_run("r = await client.get(%r)\nprint(r.status, await r.read())" % url) == ["200 b'ok'"]


@pytest.mark.parametrize("method, reply", [
    ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
    ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n"),
    ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"),
])
def test_answers_without_a_body_have_none_whatever_their_length_says(method, reply):
    out = client_run("r = await client.request(%r, %r)\nprint(r.status, r.headers['content-length'], await r.read())"
                     % (method, raw_server(reply)))
    assert out == ["%s 100 b''" % reply.split()[1].decode()]


def test_body_shorter_than_its_length_raises():
    url = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert raised("await (await client.get(%r)).read()" % url) == "ClientError: connection closed inside the body"


def test_refused_connection_is_an_oserror():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = raised("await client.get('http://127.0.0.1:%d/')" % port)
    assert error == "OSError: [Errno 111] ECONNREFUSED", error


@pytest.mark.parametrize("call", [
    "await client.get(%r, headers={'X-Test': 'a\\r\\nX-Injected: 1'})",
    "await client.get(%r + '/a b')",
])
def test_line_breaks_in_the_request_are_refused_before_sending(http, call):
    assert raised(call % http).startswith("ClientError: control character or space in the request")


def test_https_with_the_right_ca_passes(https, certs):
    out = client_run("""
        import kiln.tls
        ctx = kiln.tls.client_context(%r)
        r = await client.post(%r, json=[1, 2], ssl=ctx)
        print(r.status, json.loads((await r.json())["body"]))
    """ % (str(certs / "cert.pem"), https + "/echo/tls"))
    assert out == ["200 [1, 2]"]


def test_https_with_the_wrong_ca_fails(https, certs):
    error = raised("""
        import kiln.tls
        await client.get(%r, ssl=kiln.tls.client_context(%r))
    """ % (https + "/echo/tls", str(certs / "other" / "cert.pem")))
    assert error.startswith("ValueError:") and "not correctly signed by the trusted CA" in error, error


def test_https_to_a_name_the_certificate_does_not_cover_fails(tmp_path):
    # a self-signed certificate for another name only, trusted as its own CA
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=elsewhere.invalid", "-addext", "subjectAltName=DNS:elsewhere.invalid",
                    "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = start_http(ctx)
    try:
        error = raised("""
            import kiln.tls
            await client.get("https://127.0.0.1:%d/echo/x", ssl=kiln.tls.client_context(%r))
        """ % (server.server_address[1], str(tmp_path / "cert.pem")))
    finally:
        server.shutdown()
    assert error.startswith("ValueError:") and "does not match with the expected CN" in error, error


def test_https_to_kiln_serving_tls(serve, certs):
    setup = "import kiln.tls; ctx = kiln.tls.server_context(%r, %r); " % (
        str(certs / "cert.pem"), str(certs / "key.pem"))
    server = serve(ROOT / "tests" / "apps" / "ws_echo", run_args=", ssl=ctx", setup=setup)
    out = client_run("""
        import kiln.tls
        r = await client.get("https://127.0.0.1:%d/", ssl=kiln.tls.client_context(%r))
        print(r.status, await r.text())
    """ % (server.port, str(certs / "cert.pem")))
    assert out == ["200 ok"], server.console()


def test_https_never_skips_verification_silently(https):
    assert raised("await client.get(%r)" % https).startswith("ClientError: https:// needs ssl=")
    error = raised("import ssl\nawait client.get(%r, ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))" % https)
    assert error.startswith("ClientError: ssl= does not verify the server")
    out = client_run("r = await client.get(%r, verify=False)\nprint(r.status)" % (https + "/echo/x"))
    assert out == ["200"]


def test_megabyte_body_streams_in_a_small_heap(http):
    # the 1 MB body passes through a 48 KB heap in 1 KB pieces, checked by CRC; read whole, it
    # cannot fit there
    out = client_run("""
        import binascii
        r = await client.get(%r)
        n = crc = 0
        async for piece in r.iter_chunked(1024):
            crc = binascii.crc32(piece, crc)
            n += len(piece)
        print(n, crc)
    """ % (http + "/big"), heapsize="48k")
    assert out == ["%d %d" % (BIG, zlib.crc32(bytes(big_byte(i) for i in range(BIG))))]
    error = raised("await (await client.get(%r)).read()" % (http + "/big"), heapsize="48k")
    assert error.startswith("MemoryError"), error


def test_round_trip_with_kiln_serving_the_rest_api_example(serve):
    server = serve(ROOT / "examples" / "rest_api")
    out = client_run("""
        base = %r + "/api/items"
        r = await client.post(base, json={"name": "lamp", "price": 12})
        item = await r.json()
        print(r.status, r.headers["location"], item["name"])
        r = await client.put(base + "/%%d" %% item["id"], json={"name": "lamp", "price": 15})
        print(r.status, (await r.json())["price"])
        r = await client.get(base)
        print(r.status, [i["price"] for i in await r.json()])
        r = await client.delete(base + "/%%d" %% item["id"])
        print(r.status, await r.read())
    """ % server.url)
    assert out == ["201 /api/items/1 lamp", "200 15", "200 [15]", "204 b''"]


def test_views_call_out_while_the_server_keeps_serving(serve, http):
    # a view waiting on an upstream that does not answer holds only its own request: /ping is
    # served meanwhile, and the view gets its TimeoutError after 2 s
    server = serve(ROOT / "tests" / "apps" / "client_relay", setup="main.UPSTREAM = %r; " % http)
    relayed = json.loads(urllib.request.urlopen(server.url + "/relay/echo/x", timeout=10).read())
    assert relayed["status"] == 200 and json.loads(relayed["body"])["path"] == "/echo/x"
    stalled = {}

    def wait_for_stalled():
        try:
            urllib.request.urlopen(server.url + "/relay/stall-head", timeout=10)
        except urllib.error.HTTPError as e:
            stalled["status"], stalled["body"] = e.code, json.loads(e.read())

    waiter = threading.Thread(target=wait_for_stalled)
    waiter.start()
    time.sleep(0.3)
    start = time.monotonic()
    assert urllib.request.urlopen(server.url + "/ping", timeout=10).read() == b"pong"
    assert time.monotonic() - start < 1  # well before the view's 2 s timeout
    waiter.join()
    assert stalled == {"status": 504, "body": {"error": "read: no answer within 2 s"}}
