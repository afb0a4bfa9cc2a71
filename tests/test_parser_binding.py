"""The _kiln parser binding under memory pressure, run in the firmware with a small heap: requests
keep their buffers alive through collections, and a long-lived Parser does not grow."""


def run_ok(upy, code, heapsize="32k"):
    proc = upy(code, heapsize=heapsize)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_requests_keep_their_buffers_through_collections(upy):
    code = r"""
import gc, _kiln
p = _kiln.Parser()
reqs = []
for i in range(60):
    # The bytes object is referenced only by the parser, then by the request.
    reqs.append(p.feed(b"GET /p%d?i=%d HTTP/1.1\r\nHost: h%d\r\nX: %s\r\n\r\n" % (i, i, i, b"v" * i)))
    # A request split over feeds lives in the parser's own buffer.
    p.feed(b"GET /s%d HTTP/1.1\r\nHo" % i)
    reqs.append(p.feed(b"st: s%d\r\n\r\n" % i))
gc.collect()
junk = [bytearray(64) for _ in range(100)]
for i in range(60):
    a, b = reqs[2 * i], reqs[2 * i + 1]
    assert a.path == "/p%d" % i and a.query_string == "i=%d" % i, a.target
    assert a.headers["host"] == "h%d" % i and a.headers["x"] == "v" * i
    assert b.path == "/s%d" % i and b.headers["host"] == "s%d" % i
print("OK")
"""
    assert run_ok(upy, code, heapsize="64k") == "OK"


def test_a_long_lived_parser_does_not_grow(upy):
    code = r"""
import gc, _kiln
p = _kiln.Parser()
data = b"POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
def batch():
    for i in range(500):
        for j in range(0, len(data), 7):
            r = p.feed(data[j:j + 7])
        assert r.body == b"abc"
batch()
gc.collect()
before = gc.mem_alloc()
batch()
gc.collect()
print("OK" if gc.mem_alloc() - before < 512 else "GREW %d" % (gc.mem_alloc() - before))
"""
    assert run_ok(upy, code) == "OK"


def test_request_repr_and_types(upy):
    code = r"""
import _kiln
r = _kiln.Parser().feed(b"DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n")
print(repr(r))
r.finish()
print(repr(r))
print(type(r).__name__, type(r.headers).__name__)
"""
    assert run_ok(upy, code).splitlines() == ["<Request DELETE>", "<Request DELETE finished>", "Request Headers"]


def test_parser_error_carries_status_and_reason(upy):
    code = r"""
import _kiln
try:
    _kiln.Parser().feed(b"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n")
except ValueError as e:
    print(e.args)
"""
    assert run_ok(upy, code) == "(400, 'Bad Request')"
