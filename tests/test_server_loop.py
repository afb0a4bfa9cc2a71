"""The C socket loop over real sockets: keep-alive, pipelining, streaming, timeouts, admission
control, errors and memory. Apps: tests/apps/server_hello and tests/apps/server_features."""

import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from http_client import Conn

APPS = Path(__file__).resolve().parent / "apps"
HELLO = APPS / "server_hello"
FEATURES = APPS / "server_features"


def get(port, path="/", **kw):
    c = Conn(port)
    try:
        c.request(path, **kw)
        return c.response()
    finally:
        c.close()


def log_lines(srv, status):
    """The console lines the loop logged for `status` (whole lines, not a port that has the digits)."""
    return [x for x in srv.console().splitlines() if x.startswith("Kiln: %d " % status)]


def free_port_here():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(1 << 20))
    return path


@pytest.fixture
def features(serve, big_file):
    def start(heapsize=None, **config):
        args = ", file=%r" % str(big_file)
        for k, v in config.items():
            args += ", %s=%r" % (k, v)
        return serve(FEATURES, heapsize=heapsize, run_args=args)

    return start


def cpu_ticks(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


# --- HTTP/1.1 behaviour -------------------------------------------------------------------------


def test_keep_alive_reuses_the_connection(features):
    srv = features()
    c = Conn(srv.port)
    for i in range(20):
        c.request("/echo?i=%d" % i)
        status, h, body, _ = c.response()
        assert status == 200
        assert body == b"GET /echo?i=%d 1.1 0|" % i
        assert "connection" not in h
    c.close()


def test_pipelined_requests_are_answered_in_order(features):
    srv = features()
    c = Conn(srv.port)
    c.send(b"".join(b"GET /echo?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(50)))
    for i in range(50):
        status, _, body, _ = c.response()
        assert (status, body) == (200, b"GET /echo?n=%d 1.1 0|" % i)
    # a pipelined POST with a body between two GETs
    c.send(b"GET /echo?a HTTP/1.1\r\nHost: t\r\n\r\n"
           b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
           b"GET /echo?b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.response()[2] == b"GET /echo?a 1.1 0|"
    assert c.response()[2] == b"POST /echo 1.1 3|xyz"
    assert c.response()[2] == b"GET /echo?b 1.1 0|"
    c.close()


def test_http10_closes_unless_keep_alive_is_asked(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/", version="1.0")
    status, h, body, _ = c.response()
    assert (status, body, h["connection"]) == (200, b"Hello, World!", "close")
    assert c.closed_by_server()
    c = Conn(srv.port)
    for _ in range(3):
        c.request("/", version="1.0", headers=[("Connection", "keep-alive")])
        status, h, body, _ = c.response()
        assert (status, body, h["connection"]) == (200, b"Hello, World!", "keep-alive")
    # unknown length for a 1.0 client: the body ends when the server closes
    c.request("/stream", version="1.0", headers=[("Connection", "keep-alive")])
    status, h, body, _ = c.response()
    assert "transfer-encoding" not in h and h["connection"] == "close"
    assert body == b"chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;"


def test_connection_close_is_honoured(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/", headers=[("Connection", "close")])
    status, h, _, _ = c.response()
    assert status == 200 and h["connection"] == "close"
    assert c.closed_by_server()
    c = Conn(srv.port)
    c.request("/close")
    status, h, body, _ = c.response()
    assert (body, h["connection"]) == (b"bye", "close")
    assert c.closed_by_server()


def test_expect_100_continue(features):
    srv = features()
    c = Conn(srv.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    status, _, _, raw = c.response(head_only=True)
    assert status == 100 and raw == b"HTTP/1.1 100 Continue\r\n"
    c.send(b"hello")
    assert c.response()[:3:2] == (200, b"POST /echo 1.1 5|hello")


def test_head_sends_no_body(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/", method="HEAD")
    status, h, _, _ = c.response(head_only=True)
    assert status == 200 and h["content-length"] == "13"
    c.request("/stream", method="HEAD")
    status, h, _, _ = c.response(head_only=True)
    assert status == 200 and h["transfer-encoding"] == "chunked"
    # had any body byte been sent, this response would not parse
    c.request("/echo")
    assert c.response()[2] == b"GET /echo 1.1 0|"


def test_status_without_body(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/nocontent")
    status, h, _, raw = c.response()
    assert status == 204 and "content-length" not in h and "transfer-encoding" not in h
    c.request("/")
    assert c.response()[2] == b"Hello, World!"


def test_chunked_responses_from_sync_and_async_iterators(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/stream")
    status, h, body, _ = c.response()
    assert h["transfer-encoding"] == "chunked" and "content-length" not in h
    assert body == b"chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;"
    c.request("/agen")
    status, h, body, _ = c.response()
    assert h["transfer-encoding"] == "chunked"
    assert body == b"async 1;async 2;async 3;"
    c.request("/")
    assert c.response()[2] == b"Hello, World!"


def test_chunked_request_body(features):
    srv = features()
    c = Conn(srv.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
           b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.response()[2] == b"POST /echo 1.1 11|hello world"
    assert c.response()[2] == b"GET /echo 1.1 0|"


def refused(port, raw, status=400):
    """Sends raw on a new connection: the answer is `status`, then the server closes."""
    c = Conn(port)
    try:
        c.send(raw)
        got, h, _, _ = c.response()
        assert (got, h.get("connection")) == (status, "close"), raw[:60]
        assert c.closed_by_server()
    finally:
        c.close()


# A proxy that splits lines only on CRLF sees one field "Dummy: x\nContent-Length: 23" and a
# second request in the body; a parser that also splits on LF would see a 23-byte body.
SMUGGLE_MIXED_LF = (b"POST /echo HTTP/1.1\r\nHost: t\r\nDummy: x\nContent-Length: 23\r\n\r\n"
                    b"GET /admin HTTP/1.1\r\n\r\n")


def test_bare_lf_line_ends_are_400_by_default(features):
    srv = features()
    refused(srv.port, SMUGGLE_MIXED_LF)
    refused(srv.port, b"GET /echo HTTP/1.1\nHost: t\n\n")
    refused(srv.port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\nhi\r\n0\r\n\r\n")
    assert get(srv.port)[0] == 200


def test_bare_lf_only_messages_are_an_opt_in(features):
    srv = features(lenient_lf=True)
    c = Conn(srv.port)
    c.send(b"GET /echo?a HTTP/1.1\nHost: t\n\n"
           b"POST /echo HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n2;x=\"y\"\nhi\n0\n\n"
           b"GET /echo?b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.response()[2] == b"GET /echo?a 1.1 0|"
    assert c.response()[2] == b"POST /echo 1.1 2|hi"
    assert c.response()[2] == b"GET /echo?b 1.1 0|"
    c.close()
    # mixing the two is refused all the same
    refused(srv.port, SMUGGLE_MIXED_LF)
    refused(srv.port, b"POST /echo HTTP/1.1\nHost: t\nTransfer-Encoding: chunked\n\n2\r\nhi\n0\n\n")


def test_chunk_extensions_are_checked(features):
    srv = features()
    c = Conn(srv.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2 ; a = b ; c=\"q;\\\"\"\r\nhi\r\n0;z\r\n\r\n")
    assert c.response()[2] == b"POST /echo 1.1 2|hi"
    c.close()
    for ext in (b";", b"; ", b";=b", b";a=", b";a=\"b", b";a=b c", b";a==b", b";\xff"):
        refused(srv.port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2" + ext + b"\r\nhi\r\n0\r\n\r\n")
    assert get(srv.port)[0] == 200


def test_large_bodies_both_ways(features):
    srv = features(body_in_memory=65536)
    c = Conn(srv.port)
    c.request("/big")
    status, h, body, _ = c.response()
    assert h["content-length"] == "100000" and body == b"x" * 100000
    payload = os.urandom(40000)
    c.request("/echo", method="POST", body=payload)
    assert c.response()[2] == b"POST /echo 1.1 40000|" + payload


def test_a_1mb_file_is_streamed(features, big_file):
    srv = features(heapsize="64k")
    c = Conn(srv.port)
    start = time.monotonic()
    c.request("/file")
    status, h, body, _ = c.response()
    assert status == 200 and h["transfer-encoding"] == "chunked"
    assert hashlib.sha256(body).digest() == hashlib.sha256(big_file.read_bytes()).digest()
    assert time.monotonic() - start < 10
    c.request("/")
    assert c.response()[2] == b"Hello, World!"


def test_response_headers_with_cr_or_lf_are_refused(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/badheader")
    status, h, body, raw = c.response()
    assert status == 500 and b"Injected" not in raw + body
    assert "Kiln: 500 invalid response header" in srv.console()
    c.request("/cookies")
    status, h, _, _ = c.response()
    assert h["set-cookie"] == ["a=1", "b=2"]


def test_response_header_values_follow_the_parsers_rules(features):
    srv = features()
    c = Conn(srv.port)
    for ctl in (0x0B, 0x0C, 0x01, 0x7F, 0x00, 0x0D, 0x0A):
        c.request("/ctl-header?%d" % ctl)
        status, h, body, raw = c.response()
        assert status == 500 and "x-v" not in h, ctl
    c.request("/ctl-header?9")  # HTAB is allowed
    status, h, body, _ = c.response()
    assert status == 200 and h["x-v"] == "a\tb"
    c.request("/bad-name")
    assert c.response()[0] == 500
    c.close()
    assert "Kiln: 500 invalid response header" in srv.console()


def test_an_app_set_transfer_encoding_is_framed_by_kiln_or_refused(features):
    srv = features()
    c = Conn(srv.port)
    # "chunked": the header is Kiln's to write; a known length is sent with Content-Length
    c.request("/te?len")
    status, h, body, raw = c.response()
    assert (status, body, h["content-length"]) == (200, b"ok", "2") and "transfer-encoding" not in h
    c.request("/te?gen")
    status, h, body, raw = c.response()
    assert (status, body, h["transfer-encoding"]) == (200, b"chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;", "chunked")
    assert raw.lower().count(b"transfer-encoding") == 1
    c.request("/te?gen", version="1.0", headers=[("Connection", "keep-alive")])
    status, h, body, raw = c.response()
    assert "transfer-encoding" not in h and h["connection"] == "close"
    assert body == b"chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;"
    c.close()
    # another coding, or chunked with a Content-Length: refused
    for q in ("gzip", "cl"):
        c = Conn(srv.port)
        c.request("/te?" + q)
        status, h, body, raw = c.response()
        assert status == 500 and b"gzip" not in raw.lower(), q
        c.request("/")
        assert c.response()[2] == b"Hello, World!"
        c.close()


def test_bad_requests_get_the_parser_status_and_close(features):
    srv = features()
    cases = [
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 5000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
    ]
    for raw, expected in cases:
        c = Conn(srv.port)
        c.send(raw)
        status, h, _, _ = c.response()
        assert status == expected, raw[:40]
        assert h["connection"] == "close"
        assert c.closed_by_server()
    assert "Kiln: 400 Bad Request from 127.0.0.1" in srv.console()
    assert get(srv.port)[0] == 200


def test_a_head_arriving_in_pieces_is_answered_once_it_is_whole(features):
    # (How often the loop parses the pieces is not visible from here: the loop has no counter.)
    srv = features()
    c = Conn(srv.port)
    raw = b"GET /calls?x=1 HTTP/1.1\r\nHost: t\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"
    c.sock.settimeout(0.002)
    for i in range(0, len(raw) - 1, 7):
        c.send(raw[i:min(i + 7, len(raw) - 1)])
        with pytest.raises(socket.timeout):  # nothing is answered before the head ends
            c.sock.recv(1)
    c.sock.settimeout(5)
    c.send(raw[-1:])
    status, _, body, _ = c.response()
    assert (status, body) == (200, b"1 300")  # one handler call, with the whole header
    c.request("/calls")
    assert c.response()[2] == b"2 0"
    c.close()


def test_an_over_long_request_line_gets_414_before_it_ends(features):
    srv = features()
    c = Conn(srv.port)
    c.send(b"GET /")
    for _ in range(6):
        c.send(b"a" * 500)
        time.sleep(0.01)
    status, h, _, _ = c.response()
    assert status == 414
    assert c.closed_by_server()


def test_a_body_whose_readinto_lies_about_its_count_is_refused(features):
    srv = features(send_buffer=256)
    c = Conn(srv.port)
    c.request("/lying-reader")
    data = c.read_to_close()
    assert len(data) < 1024, "heap bytes were sent: %d bytes" % len(data)
    assert "readinto returned a bad count" in srv.console()
    assert get(srv.port)[0] == 200


def test_invalid_utf8_in_a_path_or_header_is_not_a_server_error(features):
    srv = features()
    c = Conn(srv.port)
    c.send(b"GET /%ff HTTP/1.1\r\nHost: a\r\n\r\n")
    assert c.response()[0] == 404
    c.send(b"GET /header HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xe9 ok\r\n\r\n")
    status, _, body, _ = c.response()
    assert (status, body.decode()) == (200, "caf\ufffd ok")  # read as a replacement character
    c.close()
    assert log_lines(srv, 500) == []


def test_an_interim_status_from_a_handler_is_a_500(features):
    srv = features()
    assert get(srv.port, "/switching")[0] == 500
    assert get(srv.port)[0] == 200


def test_a_client_trickling_after_a_refusal_is_closed(features):
    srv = features(max_connections=2)
    c = Conn(srv.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n")
    assert c.response()[0] == 413
    closed = False
    for _ in range(20):  # one byte every 0.25 s for at most 5 s
        try:
            c.send(b"x")
        except OSError:
            closed = True
            break
        if c.closed_by_server(timeout=0.25):
            closed = True
            break
    assert closed, "the server kept draining a trickling client"


# --- errors and memory --------------------------------------------------------------------------


def test_a_handler_that_raises_gets_500_and_the_server_lives(features):
    srv = features()
    c = Conn(srv.port)
    for path in ("/raise", "/async-raise"):
        c.request(path)
        assert c.response()[0] == 500
        c.request("/")
        assert c.response()[2] == b"Hello, World!"
    lines = log_lines(srv, 500)
    assert lines[0] == "Kiln: 500 handler error from 127.0.0.1: ValueError: boom"
    assert len(lines) == 2


def test_a_handler_that_exhausts_the_heap(features):
    srv = features(heapsize="64k")
    base = int(get(srv.port, "/mem")[2].split()[0])
    for _ in range(3):
        status, _, _, _ = get(srv.port, "/oom")
        assert status == 500
    assert "MemoryError" in srv.console()
    after = int(get(srv.port, "/mem")[2].split()[0])
    assert after < base + 2048, (base, after)
    c = Conn(srv.port)
    for _ in range(50):
        c.request("/")
        assert c.response()[2] == b"Hello, World!"
    assert srv.alive()


def test_heap_per_request(features):
    srv = features()
    c = Conn(srv.port)
    c.request("/mem/start")
    c.response()
    n = 1000
    for _ in range(n):
        c.request("/")
        assert c.response()[2] == b"Hello, World!"
    c.request("/mem/stop")
    per_request = int(c.response()[2]) / (n + 1)
    print("heap per hello request: %.0f bytes" % per_request)
    assert per_request < 512


def test_hello_serves_1000_requests_in_a_16k_heap(serve):
    srv = serve(HELLO, heapsize="16k")
    for _ in range(4):
        c = Conn(srv.port)
        for _ in range(250):
            c.request("/")
            assert c.response()[2] == b"Hello, World!"
        c.close()
    assert srv.alive()


# --- concurrency, timeouts, admission -------------------------------------------------------------


def test_200_concurrent_clients(features):
    srv = features(max_per_client=0)  # every client here is 127.0.0.1
    clients = [Conn(srv.port) for _ in range(200)]
    for i, c in enumerate(clients):
        c.request("/echo?c=%d" % i)
    for i, c in enumerate(clients):
        assert c.response()[2] == b"GET /echo?c=%d 1.1 0|" % i
    for c in clients:
        c.request("/")
    for c in clients:
        assert c.response()[2] == b"Hello, World!"
        c.close()


def test_an_async_handler_does_not_block_others(features):
    import select

    srv = features()
    slow = Conn(srv.port)
    start = time.monotonic()
    slow.request("/sleep")
    c = Conn(srv.port)
    for _ in range(100):
        c.request("/")
        assert c.response()[2] == b"Hello, World!"
    # all 100 answered while the sleeping handler's response has not come yet
    assert select.select([slow.sock], [], [], 0)[0] == []
    assert slow.response()[2] == b"slept"
    assert time.monotonic() - start >= 0.95  # the handler slept 1 s (ms ticks)


def test_an_idle_client_times_out_while_others_are_served(features):
    srv = features(idle_timeout=1)
    idle = Conn(srv.port)
    start = time.monotonic()
    for _ in range(5):
        assert get(srv.port)[0] == 200
    assert idle.closed_by_server(timeout=4)
    assert 0.9 <= time.monotonic() - start < 3
    # a kept-alive connection that goes quiet is closed too
    c = Conn(srv.port)
    c.request("/")
    c.response()
    assert c.closed_by_server(timeout=4)


def test_a_view_that_blocks_the_loop_costs_no_other_client_its_connection(features):
    srv = features(idle_timeout=1)
    other = Conn(srv.port)
    other.request("/")
    assert other.response()[0] == 200
    blocker = Conn(srv.port)
    blocker.request("/block")  # time.sleep(2) in a sync view: twice the idle timeout
    time.sleep(0.3)
    # the keep-alive connection's next request arrives while the loop is held: it is not idle
    other.request("/")
    assert blocker.response()[0] == 200
    assert other.response()[0] == 200
    blocked = [x for x in srv.console().splitlines() if "blocked" in x]
    assert blocked == ["Kiln: GET /block blocked the loop for 2.0 s"]
    # and an idle connection still times out once the loop runs again
    assert other.closed_by_server(timeout=4)


def test_slowloris_gets_408(features):
    srv = features(head_timeout=1)
    c = Conn(srv.port)
    start = time.monotonic()
    c.send(b"GET / HTTP/1.1\r\n")
    for _ in range(20):
        try:
            c.send(b"X-a: b\r\n")
        except OSError:
            break
        assert get(srv.port)[0] == 200
        time.sleep(0.1)
    status, h, _, _ = c.response()
    assert status == 408 and h["connection"] == "close"
    assert time.monotonic() - start < 3
    assert "Kiln: 408 Request Timeout from 127.0.0.1" in srv.console()


def test_a_stalled_body_gets_408(features):
    srv = features(body_timeout=1)
    c = Conn(srv.port)
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    status, _, _, _ = c.response()
    assert status == 408
    assert c.closed_by_server()


def test_a_client_that_disconnects_mid_response(features):
    srv = features(max_connections=4, max_per_client=0)
    for _ in range(10):
        c = Conn(srv.port)
        c.request("/file")
        c.sock.recv(1000)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    time.sleep(0.3)
    # all four slots are free again
    clients = [Conn(srv.port) for _ in range(4)]
    for c in clients:
        c.request("/")
        assert c.response()[0] == 200
    assert srv.alive()


def conn_from(port, host):
    """A Conn whose client address is host (127.0.0.x: a distinct client on loopback)."""
    c = Conn.__new__(Conn)
    c.sock = socket.socket()
    c.sock.settimeout(5)
    c.sock.bind((host, 0))
    c.sock.connect(("127.0.0.1", port))
    c.buf = b""
    return c


def stall_heads(port, host, most):
    """Open connections from host that each send half a head, until one is refused; returns
    the ones holding a slot."""
    held = []
    for _ in range(most):
        c = conn_from(port, host)
        c.send(b"GET / HTTP/1.1\r\n")
        c.sock.settimeout(0.3)
        try:
            status = c.response()[0]
        except socket.timeout:
            c.sock.settimeout(5)
            held.append(c)
            continue
        except (ConnectionResetError, EOFError):
            status = None
        assert status in (503, None)
        c.close()
        break
    return held


def test_one_client_address_cannot_take_every_slot(features):
    srv = features(max_connections=8, max_per_client=4)
    held = stall_heads(srv.port, "127.0.0.2", 8)
    # under pressure (6 of 8 slots busy) an address holding 4 or more gets no more
    assert 4 <= len(held) <= 6
    for _ in range(20):  # the line follows the 503 on the wire
        if "Kiln: 503 per-client limit (4) reached by 127.0.0.2" in srv.console().splitlines():
            break
        time.sleep(0.05)
    else:
        pytest.fail("no per-client log line:\n" + srv.console())
    # another address is still served
    c = conn_from(srv.port, "127.0.0.3")
    c.request("/")
    assert c.response()[0] == 200


def test_under_pressure_a_stalled_head_is_dropped_sooner(features):
    srv = features(max_connections=8, max_per_client=8, head_timeout=10)
    start = time.monotonic()
    held = stall_heads(srv.port, "127.0.0.2", 7)
    assert len(held) == 7
    for c in held:
        status, h, _, _ = c.response()
        assert status == 408
    # 2 s under pressure instead of head_timeout=10
    assert time.monotonic() - start < 4.5
    # the pressure is gone with them: a head gets its full head_timeout again
    c = Conn(srv.port)
    c.send(b"GET / HTTP/1.1\r\n")
    assert not c.closed_by_server(timeout=3)


def test_a_flood_beyond_the_limit_gets_503_then_recovers(features):
    srv = features(max_connections=4, max_per_client=0)
    busy = []
    while len(busy) < 4:
        # heads in progress hold every slot, for 2 s (the deadline of a head under pressure);
        # the readiness probe may still hold one briefly
        c = Conn(srv.port)
        c.send(b"GET / HTTP/1.1\r\n")
        c.sock.settimeout(0.05)
        try:
            assert c.response()[0] == 503
        except socket.timeout:
            c.sock.settimeout(5)
            busy.append(c)
    # the flood waits in the listen backlog (16 places), then each client is answered 503
    answers = []

    def client():
        c = Conn(srv.port)
        c.request("/")
        status, h, _, _ = c.response()
        answers.append((status, h.get("retry-after"), h.get("connection")))
        c.close()

    flood = [threading.Thread(target=client) for _ in range(12)]
    for t in flood:
        t.start()
    for t in flood:
        t.join(10)
    assert answers == [(503, "1", "close")] * 12
    assert "Kiln: 503 connection limit (4) reached" in srv.console()
    for c in busy:
        c.close()
    time.sleep(0.2)
    assert get(srv.port)[0] == 200


def test_idle_connections_are_evicted_for_new_clients(features):
    srv = features(max_connections=4, max_per_client=0)
    idle = [Conn(srv.port) for _ in range(4)]
    for c in idle:
        c.request("/")
        c.response()
    for _ in range(8):
        assert get(srv.port)[0] == 200
    assert sum(c.closed_by_server(timeout=1) for c in idle) >= 1


def test_an_idle_server_uses_no_cpu(features):
    srv = features()
    c = Conn(srv.port)  # an idle keep-alive connection is registered too
    c.request("/")
    c.response()
    time.sleep(0.2)
    before = cpu_ticks(srv.proc.pid)
    time.sleep(2)
    used = cpu_ticks(srv.proc.pid) - before
    assert used <= 2, "%d clock ticks in 2 s of idling" % used


def test_sync_handlers_only_delay_others_by_their_run_time(features):
    srv = features()
    results = []

    def client():
        results.append(get(srv.port)[0])

    threads = [threading.Thread(target=client) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [200] * 20


def test_aborted_connections_leak_no_file_descriptors(features):
    srv = features(head_timeout=1)
    fd_dir = Path("/proc/%d/fd" % srv.proc.pid)

    def open_fds():
        # what each descriptor is ("socket:[...]", a file's path): a failure names the leak
        return sorted(os.readlink(fd) for fd in fd_dir.iterdir())

    get(srv.port)
    time.sleep(0.2)
    before = open_fds()
    baseline = len(before)
    rst = b"\x01\x00\x00\x00\x00\x00\x00\x00"
    for i in range(60):
        c = Conn(srv.port)
        if i % 3 == 0:
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # mid-head
        elif i % 3 == 1:
            c.request("/file")  # mid-response
            c.sock.recv(100)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
        c.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(list(fd_dir.iterdir())) > baseline:
        time.sleep(0.1)
    after = open_fds()
    assert len(after) <= baseline, (before, after, srv.console())
    assert get(srv.port)[0] == 200


def test_start_server_and_close_from_asyncio(upy):
    port = free_port_here()
    code = """
import asyncio
from kiln import server

async def handler(req):
    await asyncio.sleep_ms(1)
    return 200, {"X-Path": req.path}, "async " + req.path

async def main():
    srv = await server.start_server(handler, "127.0.0.1", %d, idle_timeout=1)
    r, w = await asyncio.open_connection("127.0.0.1", %d)
    w.write(b"GET /one HTTP/1.1\\r\\nHost: t\\r\\n\\r\\nGET /two HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
    await w.drain()
    data = b""
    while data.count(b"async /") < 2:
        data += await r.read(1000)
    print(data.count(b"HTTP/1.1 200 OK"), b"X-Path: /two" in data, srv.connections)
    srv.close()
    await srv.wait_closed()
    print("closed", srv.connections)
    w.close()

asyncio.run(main())
""" % (port, port)
    proc = upy(code)
    assert proc.stdout.split() == ["2", "True", "1", "closed", "0"], proc.stdout + proc.stderr


def test_heap_exhaustion_under_concurrent_load(features):
    # Handlers that run out of memory (a hog, a body larger than the heap) next to plain
    # clients: the hogs get 500 and their connections close, the others never notice.
    srv = features(heapsize="48k", max_connections=10)
    stop = time.monotonic() + 3
    counts = {}

    def client(path):
        while time.monotonic() < stop:
            try:
                c = Conn(srv.port, timeout=10)
                while time.monotonic() < stop:
                    c.request(path)
                    status = c.response()[0]
                    counts[path, status] = counts.get((path, status), 0) + 1
                c.close()
            except (OSError, EOFError):
                counts[path, "closed"] = counts.get((path, "closed"), 0) + 1

    threads = [threading.Thread(target=client, args=(p,)) for p in ["/"] * 6 + ["/oom", "/big"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert srv.alive(), srv.console()
    print(counts)
    assert counts["/", 200] > 100 and counts["/oom", 500] > 0 and counts["/big", 500] > 0
    assert [k for k in counts if k[0] == "/" and k[1] != 200] == [], (counts, srv.console()[-2000:])
    c = Conn(srv.port)
    for _ in range(20):
        c.request("/")
        assert c.response()[2] == b"Hello, World!"


def test_heap_per_idle_keep_alive_connection(features):
    srv = features(max_connections=64)
    probe = Conn(srv.port)

    def heap():
        probe.request("/mem")
        return int(probe.response()[2].split()[0])

    heap()
    before = heap()
    idle = [Conn(srv.port) for _ in range(20)]
    for c in idle:
        c.request("/")
        c.response()
    per_connection = (heap() - before) / len(idle)
    print("heap per idle keep-alive connection: %.0f bytes" % per_connection)
    # buffers (recv 512 + send 1024) + connection object, socket, task
    assert per_connection < 3072


def checksum(data):
    check = 0
    for b in data:
        check = (check * 31 + b) & 0xFFFFFF
    return check


def test_large_bodies_are_streamed_to_the_handler(features):
    srv = features(heapsize="64k", body_in_memory=2048, max_body=1 << 20)
    c = Conn(srv.port)
    small = os.urandom(1000)
    c.request("/upload", method="POST", body=small)
    assert c.response()[2] == b"in memory 1000"
    big = os.urandom(300000)  # far more than the heap
    c.request("/upload", method="POST", body=big)
    assert c.response()[2] == b"%d %d" % (len(big), checksum(big))
    # chunked, switching to streaming past body_in_memory
    c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(big), 7000):
        part = big[i:i + 7000]
        c.send(b"%x\r\n%s\r\n" % (len(part), part))
    c.send(b"0\r\n\r\n")
    assert c.response()[2] == b"%d %d" % (len(big), checksum(big))
    # Expect: 100-continue, then the streamed body
    c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
    assert c.response(head_only=True)[0] == 100
    c.send(big[:5000])
    assert c.response()[2] == b"5000 %d" % checksum(big[:5000])
    c.request("/")
    assert c.response()[2] == b"Hello, World!"


def test_an_unread_streamed_body_closes_the_connection(features):
    srv = features(body_in_memory=1024, max_body=1 << 20)
    c = Conn(srv.port)
    c.send(b"POST /upload-ignored HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    status, h, body, _ = c.response()
    assert (status, body, h["connection"]) == (200, b"not read", "close")
    assert c.closed_by_server()
    assert get(srv.port)[0] == 200


def test_a_stalled_streamed_body_times_out(features):
    srv = features(body_in_memory=1024, body_timeout=1, max_body=1 << 20)
    c = Conn(srv.port)
    c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    start = time.monotonic()
    assert c.closed_by_server(timeout=4)
    assert time.monotonic() - start < 3
    assert get(srv.port)[0] == 200


def test_access_log_only_when_configured(features):
    srv = features()
    get(srv.port, "/echo?quiet")
    assert "/echo?quiet" not in srv.console()
    srv = features(access_log=True)
    get(srv.port, "/echo?a=1")
    c = Conn(srv.port)
    c.request("/missing", method="HEAD")
    assert c.response(head_only=True)[0] == 404
    lines = srv.console().splitlines()
    assert "Kiln: 127.0.0.1 GET /echo?a=1 200" in lines
    assert "Kiln: 127.0.0.1 HEAD /missing 404" in lines


def test_a_client_that_stops_reading_is_dropped(features):
    srv = features(send_timeout=1, max_connections=2)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "send timeout" not in srv.console():
        time.sleep(0.1)
    assert "Kiln: send timeout, closing connection from 127.0.0.1" in srv.console()
    # its slot is free: two clients fit again
    clients = [Conn(srv.port) for _ in range(2)]
    for c in clients:
        c.request("/")
        assert c.response()[0] == 200
    s.close()


def test_running_out_of_file_descriptors(tmp_path):
    import resource
    import subprocess

    from conftest import FIRMWARE, free_port

    port = free_port()
    log = open(tmp_path / "console.log", "w")
    code = "import main; main.app.run(host='127.0.0.1', port=%d, max_connections=100)" % port
    proc = subprocess.Popen(
        [str(FIRMWARE), "-c", code], cwd=HELLO, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24)),
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        clients = []
        for _ in range(30):  # more than the process may open
            c = Conn(port)
            c.request("/")
            clients.append(c)
        time.sleep(1)
        # logged once per episode (an fd freed in between starts a new one), not every retry
        console = (tmp_path / "console.log").read_text()
        assert 1 <= console.count("Kiln: accept failed") <= 2, console
        for c in clients:
            c.close()
        for _ in range(3):
            assert get(port)[2] == b"Hello, World!"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(5)
        log.close()


def test_run_frees_the_port_after_ctrl_c(upy):
    port = free_port_here()
    code = """
import asyncio
from kiln import server

async def interrupt():
    await asyncio.sleep_ms(200)
    raise KeyboardInterrupt

def hello(req):
    return 200, None, "x"

for i in range(2):
    asyncio.create_task(interrupt())
    server.run(hello, "127.0.0.1", %d)
    print("stopped", i)
""" % port
    proc = upy(code, cwd=HELLO)
    assert proc.stdout.splitlines() == [
        "Kiln: serving on http://127.0.0.1:%d/" % port, "stopped 0",
        "Kiln: serving on http://127.0.0.1:%d/" % port, "stopped 1",
    ], proc.stdout + proc.stderr
