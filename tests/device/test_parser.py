# _kiln.Parser, _kiln.Request and _kiln.Headers inside the firmware.
import gc

import _kiln

BROWSER = (
    b"GET /index.html?lang=en&q=a%20b+c HTTP/1.1\r\n"
    b"Host: 192.168.4.1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=abc123; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Cache-Control: max-age=0\r\n"
    b"Referer: http://192.168.4.1/\r\n\r\n"
)


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def test_request_fields():
    r = _kiln.Parser().feed(BROWSER)
    assert type(r) is _kiln.Request
    assert r.method == "GET"
    assert r.path == "/index.html"
    assert r.target == "/index.html?lang=en&q=a%20b+c"
    assert r.query_string == "lang=en&q=a%20b+c"
    assert r.http_version == "1.1"
    assert r.keep_alive is True
    assert r.chunked is False and r.expect_continue is False
    assert r.content_length is None and r.upgrade is None
    assert r.body == b""
    assert r.stream is None and r.client_addr is None
    r.stream = 1
    r.client_addr = ("127.0.0.1", 5)
    assert r.stream == 1 and r.client_addr == ("127.0.0.1", 5)
    raises(AttributeError, setattr, r, "path", "/x")


def test_path_is_decoded_and_query_empty_when_absent():
    p = _kiln.Parser()
    r = p.feed(b"GET /a%20b/%C3%A9%2F HTTP/1.0\r\n\r\n")
    assert r.path == "/a b/\u00e9/"
    assert r.query_string == ""
    assert r.http_version == "1.0" and r.keep_alive is False
    r = p.feed(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
    assert r.method == "OPTIONS" and r.path == "*"
    r = p.feed(b"GET http://example.com?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert r.path == "/" and r.query_string == "x=1"


def test_invalid_utf8_from_a_client_reads_as_replacement_characters():
    r = _kiln.Parser().feed(b"GET /a%ffb/%C3%A9 HTTP/1.1\r\nHost: a\r\nX-O: caf\xe9 ok\r\n\r\n")
    assert r.path == "/a\ufffdb/\u00e9"
    assert r.headers["X-O"] == "caf\ufffd ok"
    assert r.headers.items()[1] == ("X-O", "caf\ufffd ok")


def test_headers_view():
    r = _kiln.Parser().feed(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a:  2 \r\nEmpty:\r\n\r\n")
    h = r.headers
    assert type(h) is _kiln.Headers
    assert r.headers is h
    assert h["host"] == "a" and h["HOST"] == "a" and h["x-a"] == "1"
    assert h["empty"] == ""
    assert raises(KeyError, lambda: h["nope"]).args[0] == "nope"
    assert h.get("x-A") == "1" and h.get("nope") is None and h.get("nope", "d") == "d"
    assert h.getall("X-a") == ["1", "2"] and h.getall("nope") == []
    assert "x-a" in h and "X-A" in h and "nope" not in h
    assert h.items() == [("Host", "a"), ("X-A", "1"), ("x-a", "2"), ("Empty", "")]
    assert list(h) == ["Host", "X-A", "x-a", "Empty"]
    assert len(h) == 4 and bool(h)
    h0 = _kiln.Parser().feed(b"GET / HTTP/1.0\r\n\r\n").headers
    assert len(h0) == 0 and not h0 and h0.items() == []


def test_framing_flags():
    p = _kiln.Parser()
    r = p.feed(b"POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
    assert r.expect_continue is True and r.content_length == 3 and r.body == b"abc"
    r = p.feed(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert r.upgrade == "websocket" and r.keep_alive is True
    r = p.feed(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert r.keep_alive is False
    r = p.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert r.keep_alive is True


def test_chunked_body_and_pipelining():
    p = _kiln.Parser()
    data = (
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
        b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /three HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab"
    )
    r = p.feed(data)
    assert r.chunked is True and r.body == b"hello world" and r.path == "/c"
    r2 = p.feed(b"")
    assert r2.path == "/two" and r2.body == b""
    assert p.feed(b"") is None
    r3 = p.feed(b"cd")
    assert r3.path == "/three" and r3.body == b"abcd"
    assert p.feed(b"") is None
    # Views of earlier requests still read their own bytes.
    assert r.headers["transfer-encoding"] == "chunked" and r2.target == "/two"


def test_byte_at_a_time():
    data = BROWSER + b"PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    p = _kiln.Parser()
    got = []
    for i in range(len(data)):
        r = p.feed(bytearray(data[i : i + 1]))
        if r is not None:
            got.append(r)
    assert [r.path for r in got] == ["/index.html", "/x"]
    assert got[0].headers["cookie"] == "session=abc123; theme=dark"
    assert got[1].body == b"abc"


def test_caller_buffer_reuse_does_not_change_requests():
    p = _kiln.Parser()
    buf = bytearray(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
    r = p.feed(buf)
    buf[5:10] = b"XXXXX"
    assert r.path == "/first" and r.target == "/first"


def test_bad_request_raises_and_parser_stays_failed():
    cases = [
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400),
        (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 2100 + b"\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ]
    for data, status in cases:
        p = _kiln.Parser()
        e = raises(ValueError, p.feed, data)
        assert e.args[0] == status, (data[:30], e.args)
        assert isinstance(e.args[1], str)
        e = raises(ValueError, p.feed, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert e.args[0] == status


def test_parser_limits():
    p = _kiln.Parser(max_headers=2)
    assert p.feed(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n") is not None
    assert raises(ValueError, p.feed, b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n").args[0] == 431
    p = _kiln.Parser(max_body=4)
    assert p.feed(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd").body == b"abcd"
    assert raises(ValueError, p.feed, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n").args[0] == 413
    p = _kiln.Parser(max_request_line=20)
    assert raises(ValueError, p.feed, b"GET /0123456789abcdef HTTP/1.1\r\n").args[0] == 414
    p = _kiln.Parser(custom_methods=True)
    assert p.feed(b"PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n").method == "PROPFIND"
    raises(ValueError, lambda: _kiln.Parser(max_head=0))
    raises(ValueError, lambda: _kiln.Parser(max_head=70000))
    raises(TypeError, lambda: _kiln.Parser(bogus=1))


def test_bare_lf_is_an_opt_in_and_never_mixed():
    lf = b"POST /l HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n2;e=\"v\"\nhi\n0\n\n"
    mixed = b"POST / HTTP/1.1\r\nHost: a\r\nDummy: x\nContent-Length: 23\r\n\r\n"
    assert raises(ValueError, _kiln.Parser().feed, lf).args[0] == 400
    assert raises(ValueError, _kiln.Parser().feed, mixed).args[0] == 400
    r = _kiln.Parser(lenient_lf=True).feed(lf)
    assert r.path == "/l" and r.body == b"hi" and r.headers["host"] == "a"
    assert raises(ValueError, _kiln.Parser(lenient_lf=True).feed, mixed).args[0] == 400


def test_finish_makes_views_raise():
    r = _kiln.Parser().feed(b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n")
    path = r.path
    h = r.headers
    r.finish()
    assert r.path == path and r.method == "GET" and r.keep_alive is True
    for fn in (
        lambda: r.target,
        lambda: r.query_string,
        lambda: h["x"],
        lambda: h.get("x"),
        lambda: h.items(),
        lambda: list(h),
        lambda: "x" in h,
        lambda: r.headers.getall("x"),
    ):
        assert str(raises(RuntimeError, fn)) == "request finished"
    r2 = _kiln.Parser().feed(b"GET /late HTTP/1.1\r\nHost: a\r\n\r\n")
    r2.finish()
    raises(RuntimeError, getattr, r2, "path")


def test_typical_request_allocates_only_the_request():
    p = _kiln.Parser()
    data = BROWSER
    p.feed(data)  # warm up
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        r = p.feed(data)
        after_feed = gc.mem_alloc()
        method = r.method
        after_method = gc.mem_alloc()
    finally:
        gc.enable()
    assert method == "GET"
    # One object: the header views of 10 lines plus the head fields; nothing per header.
    assert after_feed - before <= 256, after_feed - before
    assert after_method == after_feed


def test_url_decode():
    assert _kiln.url_decode("a%20b+c") == "a b+c"
    assert _kiln.url_decode("a%20b+c", True) == "a b c"
    assert _kiln.url_decode("a+b", plus=True) == "a b"
    assert _kiln.url_decode("%zz%") == "%zz%"
    assert _kiln.url_decode("%C3%A9") == "\u00e9"
    assert _kiln.url_decode(b"x%41") == "xA"
    s = "plain"
    assert _kiln.url_decode(s) is s
    assert _kiln.url_decode("%ff%E2%82%AC") == "\ufffd\u20ac"


def test_parse_qs():
    assert _kiln.parse_qs("") == []
    assert _kiln.parse_qs("a=1&b=x+y&&c&d=%26&a=2") == [
        ("a", "1"),
        ("b", "x y"),
        ("c", ""),
        ("d", "&"),
        ("a", "2"),
    ]
    assert _kiln.parse_qs(b"k=%E2%9C%93") == [("k", "\u2713")]
