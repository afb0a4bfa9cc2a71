"""The pure-Python `_kiln` (modules/_kiln.py, _kiln_http.py, _kiln_loop.py, _kiln_route.py) against the C module:
one parametrised suite, each case run through both inside the unix firmware (the C module built
in, the fallback loaded beside it under another name), and the results must be equal. Cases: the
differential corpus of tests/test_parser_diff.py and the inputs of the C parser's own table tests
(tests/c/test_http.c: valid, header, bad and chunked cases, read from that file), each fed whole
and byte by byte; pipelined requests; limits; the module functions; the request's class
extension. tests/test_mip.py and `make test-fallback` run the fallback alone on stock
MicroPython."""

import ast
import re

import pytest
from conftest import ROOT, free_port
from test_parser_diff import CASES

FALLBACK = ROOT / "modules" / "_kiln.py"
C_TESTS = ROOT / "tests" / "c" / "test_http.c"
CHUNKED_HEAD = b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


def c_string(text, i):
    """The bytes of the C string literal starting at text[i] (a quote) and the index after it."""
    out = bytearray()
    i += 1
    while text[i] != '"':
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = text[i + 1]
        i += 2
        if e == "x":  # as C: every hex digit that follows belongs to the escape
            j = i
            while j < len(text) and text[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(text[i:j], 16))
            i = j
        elif e in "01234567":
            j = i - 1
            while j < i + 2 and text[j] in "01234567":
                j += 1
            out.append(int(text[i - 1:j], 8))
            i = j
        else:
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\", '"': b'"', "'": b"'", "0": b"\0"}[e]
    return bytes(out), i + 1


def c_table(name):
    """The first field (a string) of each entry of the C array `name` in tests/c/test_http.c."""
    text = C_TESTS.read_text()
    start = text.index("%s[] = {" % name) + len(name) + 6
    entries, depth, field, current, i = [], 1, 0, None, start
    while depth:
        c = text[i]
        if text.startswith("//", i):
            i = text.index("\n", i)
            continue
        if c == '"':
            data, i = c_string(text, i)
            if depth == 2 and field == 0:
                current = (current or b"") + data
            continue
        if c == "{":
            depth += 1
            field, current = 0, None
        elif c == "}":
            depth -= 1
            if depth == 1 and current is not None:
                entries.append(current)
        elif c == "," and depth == 2:
            field += 1
        i += 1
    return entries


def c_strings(name):
    """The strings of the C array of strings `name` in tests/c/test_http.c."""
    text = C_TESTS.read_text()
    i = text.index("%s[] = {" % name) + len(name) + 6
    out = []
    while text[i] != "}":
        if text.startswith("//", i):
            i = text.index("\n", i)
        elif text[i] == '"':
            data, i = c_string(text, i)
            out.append(data)
            continue
        i += 1
    return out


C_CASES = (
    [("valid%d" % n, raw) for n, raw in enumerate(c_table("valid_cases"))]
    + [("bare-lf%d" % n, raw) for n, raw in enumerate(c_table("bare_lf_cases"))]
    + [("mixed-lf%d" % n, raw) for n, raw in enumerate(c_strings("mixed_lf_cases"))]
    + [("header%d" % n, raw) for n, raw in enumerate(c_table("header_cases"))]
    + [("bad%d" % n, raw) for n, raw in enumerate(c_table("bad_cases"))]
    + [("chunk%d" % n, CHUNKED_HEAD + raw) for n, raw in enumerate(c_table("chunk_cases"))]
)

# Feeds chunks to a Parser of implementation k: what it accepted or why it refused. Run in the
# firmware (HARNESS) and on CPython.
FEED = r"""
def req_fields(r):
    return ("accept", r.method, r.target, r.path, r.query_string, r.http_version, r.headers.items(),
            r.body, r.chunked, r.keep_alive, r.content_length, r.expect_continue, r.upgrade,
            len(r.headers), [n for n in r.headers])


def feed_all(k, chunks, **limits):
    p = k.Parser(**limits)
    out = []
    try:
        for chunk in chunks:
            r = p.feed(chunk)
            while r is not None:
                out.append(req_fields(r))
                r = p.feed(b"")
    except ValueError as e:
        out.append(("reject",) + tuple(e.args))
    return out
"""

# Runs in the firmware: IMPLS maps a name to an implementation of _kiln.
HARNESS = r"""
import sys
import _kiln as C
sys.path.append(%r)  # _kiln_http and _kiln_loop; the built-in _kiln still comes first
ns = {"__name__": "_kiln_fallback"}
exec(open(%r).read(), ns)


class Py:
    pass


for k, v in ns.items():
    setattr(Py, k, v)
IMPLS = (("c", C), ("py", Py))


""" % (str(FALLBACK.parent), str(FALLBACK)) + FEED

LIMIT_CASES = [
    ("line-414", dict(max_request_line=20), b"GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("header-line-431", dict(max_header_line=16), b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n\r\n"),
    ("head-431", dict(max_head=40), b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n"),
    ("headers-431", dict(max_headers=2), b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n"),
    ("body-413", dict(max_body=4), b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
    ("chunked-413", dict(max_body=4),
     b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
    ("custom-allowed", dict(custom_methods=True), b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("long-incomplete-414", dict(max_request_line=10, max_head=64), b"GET /" + b"a" * 80),
] + (
    # The C tables' bare-LF cases again with lenient_lf: accepted, and a mix still 400.
    [("lenient-bare-lf%d" % n, dict(lenient_lf=True), raw) for n, raw in enumerate(c_table("bare_lf_cases"))]
    + [("lenient-mixed-lf%d" % n, dict(lenient_lf=True), raw) for n, raw in enumerate(c_strings("mixed_lf_cases"))]
    + [("lenient-chunk%d" % n, dict(lenient_lf=True), CHUNKED_HEAD.replace(b"\r\n", b"\n") + raw)
       for n, raw in enumerate(c_table("chunk_bare_lf_cases"))]
    + [("lenient-crlf-head-chunk%d" % n, dict(lenient_lf=True), CHUNKED_HEAD + raw)
       for n, raw in enumerate(c_table("chunk_bare_lf_cases"))]
    + [("lenient-valid%d" % n, dict(lenient_lf=True), raw) for n, raw in enumerate(c_table("valid_cases"))]
    + [("lenient-chunk-crlf%d" % n, dict(lenient_lf=True), CHUNKED_HEAD + raw)
       for n, raw in enumerate(c_table("chunk_cases"))]
)

PIPELINED = [
    ("two-gets", b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b?c=d HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("post-then-get", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: b\r\n\r\n"),
    ("chunked-then-get",
     b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
     b"GET /n HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("good-then-bad", b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET  / HTTP/1.1\r\n\r\n"),
    ("utf8-and-invalid", b"GET /caf%C3%A9/%ff?q=%e2%82%ac HTTP/1.1\r\nHost: a\r\nX: \xff\xfe ok\r\n\r\n"),
]

FUNCTION_CASES = [
    ("url_decode", "k.url_decode('a%20b+c')"),
    ("url_decode-plus", "k.url_decode('a%20b+c', True)"),
    ("url_decode-bytes", "k.url_decode(b'%41%4a%zz%4')"),
    ("url_decode-utf8", "k.url_decode('%e2%82%ac%ff')"),
    ("parse_qs", "k.parse_qs('a=1&b=%41+c&&d&=e&f=')"),
    ("parse_qs-bytes", "k.parse_qs(b'x=%2B&y=a+b')"),
    ("version", "k.version()"),
    ("coroutine-plain", "k.is_coroutine_function(lambda r: r)"),
    ("coroutine-async", "k.is_coroutine_function(AsyncHolder.f)"),
    ("coroutine-bound", "k.is_coroutine_function(AsyncHolder().f)"),
    ("coroutine-closure", "k.is_coroutine_function(make_closure())"),
    ("coroutine-plain-closure", "k.is_coroutine_function(make_closure(False))"),
    ("extend", "extended(k)"),
    ("reason", "[(s, k.reason(s)) for s in range(100, 600)] + [k.reason(999)]"),
    ("headers", "headers(k)"),
    ("limits-checked", "bad_limit(k)"),
    ("loop-slots", "slots(k)"),
    # The response-header field rules: token names, no control character but HTAB in values.
    ("header_ok", "[k.header_ok(n, v) for n, v in HEADER_OK]"),
    ("header_ok-int-name", "k.header_ok(1, 'v')"),
    ("header_ok-int-value", "k.header_ok('X', 1)"),
    ("header_ok-none", "k.header_ok('X', None)"),
    # The route lookup on the same routers: a few first segments (found by their text) and many
    # (found by their hash).
    ("route_match-few", "routes(k, 3)"),
    ("route_match-many", "routes(k, 40)"),
    # The same public names (Conn is the fallback's own: the C type is not in the module table).
    ("names", "sorted(n for n in dir(k) if not n.startswith('_') and n != 'Conn')"),
]

FUNCTION_HELPERS = r"""
HEADER_OK = [
    ("X-A", "1"), ("", "v"), ("X A", "v"), ("X:", "v"), ("X", ""), ("X", "a\tb"), ("X", " a "),
    ("X", "a\x7fb"), ("X", "a\rb"), ("X", "a\nb"), ("X", "a\0b"), ("X", "\x1f"), ("X", "caf\xe9"),
    ("T\xe9", "v"), ("X(", "v"), ("!#$%&'*+-.^_`|~09aZ", "v"), (b"X", b"v"), (b"X\n", b"v"),
    (b"X", b"\xff\x80"),
]


class AsyncHolder:
    async def f(self):
        pass


def make_closure(is_async=True):
    x = 1
    async def a():
        return x
    def s():
        return x
    return a if is_async else s


def request_classes(k):
    class Base(k.Request):
        limit = 7

        def who(self):
            return "base:" + self.path

        def __getattr__(self, name):
            if name == "lazy":
                self.lazy = "made once"
                return self.lazy
            raise AttributeError(name)

    class Ext(Base):
        @staticmethod
        def static():
            return "static"

        @classmethod
        def klass(cls):
            return cls.__name__

        async def later(self):
            return 1

        shouted = property(lambda self: self.path.upper())

    return Base, Ext


def extended(k):
    base, ext = request_classes(k)
    r = k.Parser(request_class=ext).feed(b"GET /p HTTP/1.1\r\nHost: a\r\n\r\n")
    out = [type(r) is ext, isinstance(r, base), isinstance(r, k.Request)]
    r.url_args = {"a": 1}
    out += [r.limit, r.who(), r.lazy, r.lazy, r.static(), r.klass(), r.url_args, r.path, r.shouted]
    out.append(k.is_coroutine_function(r.later))
    try:
        r.missing
    except AttributeError:
        out.append("missing: AttributeError")
    other = base(r)
    out += [type(other) is base, other.path, other.who(), hasattr(other, "url_args")]
    for make in (lambda: k.Request(), lambda: k.Request(1), lambda: k.Parser(request_class=int)):
        try:
            make()
        except TypeError:
            out.append("TypeError")
    return out


def headers(k):
    r = k.Parser().feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nEmpty:\r\n\r\n")
    h = r.headers
    out = [h["x-A"], h.get("X-a"), h.get("nope"), h.get("nope", 5), h.getall("X-A"), "host" in h,
           "nope" in h, len(h), bool(h), h["empty"]]
    try:
        h["nope"]
    except KeyError:
        out.append("KeyError")
    try:
        h["a"] = "b"
    except TypeError:
        out.append("read-only: TypeError")
    return out


def slots(k):
    # The loop's slot protocol as kiln/server.py drives it, over real sockets on 127.0.0.1:
    # a Conn per slot, reused; close(sock) only while it serves that socket; Server.closed.
    import socket
    import time

    addr = socket.getaddrinfo("127.0.0.1", PORT)[0][-1]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr)
    ls.listen(4)
    srv = k.Server(ls, lambda r: (200, None, b"ok"), max_connections=2)
    out = [srv.max_connections, srv.closed, srv.connections]
    clients = []

    def connect():
        cl = socket.socket()
        cl.connect(addr)
        clients.append(cl)
        for _ in range(100):
            c = srv.accept()
            if c:
                return c
            time.sleep_ms(10)

    c = connect()
    s = c.sock
    out += [c.slot, srv.connections, c.task, c.pending]
    c.close(clients[0])  # a socket it does not serve: nothing
    out.append(srv.connections)
    c2 = connect()
    out += [c2.slot, c2 is c, srv.connections]
    c.close(s)
    out.append(srv.connections)
    c3 = connect()
    out += [c3.slot, c3 is c, srv.connections]
    c3.close(s)  # the socket of its previous client: nothing
    out.append(srv.connections)
    srv.close()
    out += [srv.closed, srv.connections, srv.accept()]
    for cl in clients:
        cl.close()
    return out


ROUTES = [
    "/r%d/<int:id>", "/r%d/x-<int:id>.json", "/r%d/<odd:n>/o", "/r%d/<odd:a>-<odd:b>", "/r%d/<re:[0-9a-f]+:h>/re",
    "/caf\xe9%d/<name>", "/r%d/<name>/\xe9t\xe9", "/r%d/n/<int:n>\xe9", "/r%d/<name>", "/r%d/<path:rest>",
    "/p%d/<path:rest>/edit",
]
ROUTE_PATHS = [
    "/r%d/7", "/r%d/-7", "/r%d/-", "/r%d/+7", "/r%d/0042", "/r%d/-0", "/r%d/123456789", "/r%d/1234567890",
    "/r%d/-98765432109876543210", "/r%d/4611686018427387904", "/r%d/1_0", "/r%d/\u0663", "/r%d/7\xe9",
    "/r%d/x-5.json", "/r%d/x-.json", "/r%d/x--5.json", "/r%d/bob", "/r%d/a/b/c", "/r%d/3/o", "/r%d/4/o",
    "/r%d/boom/o", "/r%d/3-5", "/r%d/3-4", "/r%d/3-boom", "/r%d/ff/re", "/r%d/" + "f" * 5000 + "/re",
    "/caf\xe9%d/b\xf8b", "/cafe%d/bob", "/r%d/\u20ac/\xe9t\xe9", "/r%d//\xe9t\xe9", "/r%d/n/12\xe9",
    "/r%d/n/1\xe9\xe9", "/r%d", "/r%d/", "/zz%d/4", "/%d", "/", "/r%d/" + "/" * 300, "*", "",
    "/p%d/a/b/edit", "/p%d/edit", "/p%d//edit", "/p%d/x/edit/edit", "/p%d/é/edit", "/a/b.txt", "/.txt",
]


def routes(k, count):
    # [(path, (pattern, argument) of its match, None, or the error raised)] through k.route_match
    from kiln import App
    from kiln.routing import register_converter

    def odd(text):
        if text == "boom":
            raise KeyError(text)
        n = int(text)
        if n % 2 == 0:
            raise ValueError(text)
        return n

    register_converter("odd", "[a-z0-9]+", odd)
    app = App()
    for i in range(count):
        for j, pattern in enumerate(ROUTES):
            app.route(pattern % i, endpoint="e%d_%d" % (i, j))(lambda request, **args: "")
    app.route("/<a>/<int:b>", endpoint="wild")(lambda request, a, b: "")
    app.route("/<path:all>.txt", endpoint="wild_path")(lambda request, all: "")
    out = [None, None]
    found = []
    for i in (0, 1, count - 1, count):
        for path in ROUTE_PATHS:
            path = path % i if "%d" in path else path
            try:
                m = k.route_match(app.router, path, out)
                found.append((path, m if m is None else (m is out, m[0][5], m[1])))
            except Exception as e:
                found.append((path, ("raised", type(e).__name__)))
    return found


def bad_limit(k):
    out = []
    for kw in ({"max_head": 0}, {"max_body": 0}, {"max_headers": 70000}):
        try:
            k.Parser(**kw)
            out.append("accepted")
        except ValueError:
            out.append("ValueError")
    return out
"""


def run_cases(upy, tmp_path, body):
    script = tmp_path / "fallback_cases.py"
    script.write_text(HARNESS + body)
    proc = upy("import fallback_cases", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = {}
    for line in proc.stdout.splitlines():
        name, impl, result = ast.literal_eval(line)
        results.setdefault(name, {})[impl] = result
    return results


_results = {}


@pytest.fixture
def results(upy, tmp_path):
    if not _results:
        body = "CASES = %r\nLIMIT_CASES = %r\nPIPELINED = %r\nFUNCTION_CASES = %r\nPORT = %d\n" % (
            CASES + C_CASES, LIMIT_CASES, PIPELINED, FUNCTION_CASES, free_port())
        body += FUNCTION_HELPERS + r"""
for impl, k in IMPLS:
    for name, raw in CASES:
        print(repr(("whole:" + name, impl, feed_all(k, [raw]))))
        print(repr(("bytes:" + name, impl, feed_all(k, [raw[i:i + 1] for i in range(len(raw))]))))
    for name, limits, raw in LIMIT_CASES:
        print(repr(("limit:" + name, impl, feed_all(k, [raw], **limits))))
        print(repr(("limit-bytes:" + name, impl, feed_all(k, [raw[i:i + 1] for i in range(len(raw))], **limits))))
    for name, raw in PIPELINED:
        print(repr(("pipelined:" + name, impl, feed_all(k, [raw]))))
        print(repr(("pipelined-split:" + name, impl, feed_all(k, [raw[:7], raw[7:40], raw[40:]]))))
    for name, expr in FUNCTION_CASES:
        try:
            value = eval(expr, {"k": k, "AsyncHolder": AsyncHolder, "make_closure": make_closure,
                                "extended": extended, "headers": headers, "bad_limit": bad_limit,
                                "slots": slots, "HEADER_OK": HEADER_OK, "routes": routes})
        except Exception as e:
            value = ("raised", type(e).__name__)
        print(repr(("function:" + name, impl, repr(value))))
"""
        _results.update(run_cases(upy, tmp_path, body))
    return _results


NAMES = (
    ["whole:" + n for n, _ in CASES + C_CASES] + ["bytes:" + n for n, _ in CASES + C_CASES]
    + ["limit:" + n for n, _, _ in LIMIT_CASES] + ["limit-bytes:" + n for n, _, _ in LIMIT_CASES]
    + ["pipelined:" + n for n, _ in PIPELINED] + ["pipelined-split:" + n for n, _ in PIPELINED]
    + ["function:" + n for n, _ in FUNCTION_CASES]
)


@pytest.mark.parametrize("name", NAMES)
def test_fallback_matches_c_module(results, name):
    got = results[name]
    assert got["py"] == got["c"]


# The same parser cases through the fallback on CPython (host tests, tools), against the C
# module's results from the firmware.
def cpython_fallback():
    import importlib
    import sys

    sys.path.insert(0, str(FALLBACK.parent))
    try:
        return importlib.import_module("_kiln_http")
    finally:
        sys.path.remove(str(FALLBACK.parent))


def cpython_feed_all(k, chunks, **limits):
    ns = {}
    exec(FEED, ns)
    return ast.literal_eval(repr(ns["feed_all"](k, chunks, **limits)))


CPYTHON_NAMES = ["whole:" + n for n, _ in CASES + C_CASES] + ["pipelined:" + n for n, _ in PIPELINED]


@pytest.mark.parametrize("name", CPYTHON_NAMES)
def test_fallback_on_cpython_matches_c_module(results, name):
    k = cpython_fallback()
    kind, case = name.split(":", 1)
    raw = dict(CASES + C_CASES + PIPELINED)[case]
    assert cpython_feed_all(k, [raw]) == results[name]["c"]


def test_kiln_reads_reason_phrases_from_kiln():
    # kiln_response.c owns the table; _kiln_http.py restates it for firmware without the C
    # module (the "reason" case above compares the two); kiln reads _kiln.reason.
    for path in sorted((ROOT / "modules" / "kiln").glob("*.py")):
        copies = re.findall(r'\b[1-5]\d\d: *"[A-Z][a-z]', path.read_text())
        assert not copies, "%s restates reason phrases: %s" % (path.name, copies)

