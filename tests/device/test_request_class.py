# The request class: requests are instances of the class the parser is given (a subclass of
# _kiln.Request), made by C; what they keep alive. (Apart from test_parser.py: a board loads a
# test module into its heap whole.)
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


class Base(_kiln.Request):
    limit = 10

    def describe(self, extra):
        return "%s %s %s" % (self.method, self.path, extra)

    def __getattr__(self, name):
        if name == "lazy":
            self.lazy = [self.path]
            return self.lazy
        raise AttributeError(name)


class Extended(Base):
    app = "the app"


def test_requests_are_made_of_the_request_class():
    r = _kiln.Parser(request_class=Extended).feed(BROWSER)
    assert type(r) is Extended and isinstance(r, Base) and isinstance(r, _kiln.Request)
    assert r.app == "the app" and r.limit == 10  # class attributes, from the class and its bases
    assert r.describe(1) == "GET /index.html 1"  # methods get the request as self
    assert r.method == "GET" and r.headers["host"] == "192.168.4.1"  # the parsed fields
    first = r.lazy  # __getattr__, which stores its result on the request
    assert first == ["/index.html"] and r.lazy is first
    raises(AttributeError, lambda: r.missing)
    assert getattr(r, "missing", "default") == "default" and not hasattr(r, "missing")
    r.user = "ann"  # what Python stores, it reads back, before and after the class's names
    r.limit = 3
    assert r.user == "ann" and r.limit == 3 and Extended.limit == 10
    del r.user
    raises(AttributeError, lambda: r.user)
    r.finish()
    assert r.limit == 3 and r.lazy is first and r.method == "GET"
    raises(RuntimeError, lambda: r.target)
    assert repr(r) == "<Request GET finished>"


class WithProperties(_kiln.Request):
    limit = 7

    @classmethod
    def kind(cls):
        return (cls.__name__, cls.limit)

    def _get_user(self):
        return "got " + self.stored_user

    def _set_user(self, value):
        self.stored_user = value

    user = property(_get_user, _set_user)
    read_only = property(lambda self: "fixed")
    shouted = property(lambda self: self.path.upper())


def test_classmethods_and_properties_of_the_request_class():
    r = _kiln.Parser(request_class=WithProperties).feed(BROWSER)
    assert r.kind() == ("WithProperties", 7)  # bound to the class
    r.user = "bob"  # the setter runs; the getter reads
    assert r.stored_user == "bob" and r.user == "got bob"
    raises(AttributeError, setattr, r, "read_only", 1)
    assert r.read_only == "fixed" and r.shouted == "/INDEX.HTML"


def test_a_plain_request_stores_only_its_two_fields():
    r = _kiln.Parser().feed(BROWSER)
    assert type(r) is _kiln.Request
    raises(AttributeError, lambda: r.app)
    raises(AttributeError, setattr, r, "user", "ann")
    raises(AttributeError, setattr, r, "path", "/other")  # the parsed fields are read-only
    r.stream = "s"
    r.client_addr = ("1.2.3.4", 5)
    assert r.stream == "s" and r.client_addr == ("1.2.3.4", 5)


def test_a_request_class_is_checked():
    raises(TypeError, lambda: _kiln.Parser(request_class=list))
    raises(TypeError, lambda: _kiln.Parser(request_class="not a class"))
    raises(TypeError, _kiln.Request)  # requests are made by the parser
    raises(TypeError, _kiln.Request, "GET / HTTP/1.1")
    raises(TypeError, Extended, 1)


def test_a_request_given_another_class():
    r = _kiln.Parser(request_class=Extended).feed(BROWSER)
    r.user = "ann"
    other = WithProperties(r)  # the same parse, another class; what was stored stays with r
    assert type(other) is WithProperties and other.path == "/index.html" and other.kind()[1] == 7
    assert other.headers["Cookie"] == "session=abc123; theme=dark"
    raises(AttributeError, lambda: other.user)
    plain = _kiln.Request(r)
    assert type(plain) is _kiln.Request and plain.method == "GET"


def part_of_a_dropped_request(name):
    return getattr(_kiln.Parser(request_class=Extended).feed(BROWSER), name)


def churn():
    # Fills a quarter of the free heap with marked blocks, reusing any block the dropped request had left
    # (a board's 38 KB heap holds fewer of them than unix's).
    gc.collect()
    n = min(100, gc.mem_free() // 4 // 192)
    for _ in range(3):
        junk = None
        junk = [bytearray(b"\xff" * 160) for _ in range(n)]
        gc.collect()
    return junk


def test_a_headers_view_keeps_its_request():
    headers = part_of_a_dropped_request("headers")
    churn()
    assert headers["host"] == "192.168.4.1" and len(headers) == 10


def test_a_bound_finish_keeps_its_request():
    finish = part_of_a_dropped_request("finish")
    junk = churn()
    finish()  # writes to its request, never to a block the collector gave to something else
    assert all(b == b"\xff" * 160 for b in junk)
