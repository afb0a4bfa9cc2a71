"""Connection storms over real sockets: many more clients at once than connection slots. Each
gets a whole answer (its page, or a 503 that says so, has a body and closes the connection);
none sees a reset or a cut-off answer; the server serves as before afterwards, in the heap it had.
App: tests/apps/server_features, 8 slots; the clients run in threads on 127.0.0.1, bounded in
number (100) and time (each socket times out after 20 s)."""

import threading
import time

import pytest
from http_client import Conn
from test_server_loop import FEATURES, get

SLOTS = 8
CLIENTS = 100
HELLO = b"Hello, World!"


@pytest.fixture
def features(serve):
    def start(**config):
        return serve(FEATURES, run_args="".join(", %s=%r" % kv for kv in config.items()))

    return start


def heap_in_use(port):
    """The server's allocated heap after a collection (its /mem page)."""
    status, _, body, _ = get(port, "/mem")
    assert status == 200
    return int(body.split()[0])


def answer(c):
    """(status, headers, body) of the next response on c, or the name of what went wrong."""
    try:
        return c.response()[:3]
    except (OSError, EOFError, ValueError, IndexError) as e:
        return type(e).__name__


def check_busy(status, h, body, c):
    """A clean refusal: a 503 with Retry-After and a body, and the server closes the
    connection after it (a FIN, not a reset)."""
    assert status == 503, status
    assert h.get("connection") == "close" and h.get("retry-after") == "1", h
    assert body == b"Service Unavailable"
    c.sock.settimeout(5)
    assert c.sock.recv(100) == b""


def storm(port, clients, requests, hold):
    """`clients` threads connect at once; each sends `requests` keep-alive GETs one after the
    other (after a 503 it reconnects for the next), then holds its connection open until every
    client is done if `hold`. Returns each client's list of statuses or failure names."""
    results = [[] for _ in range(clients)]
    go = threading.Event()
    done = threading.Event()

    def client(mine):
        go.wait()
        c = None
        try:
            for _ in range(requests):
                if c is None:
                    c = Conn(port, timeout=20)
                c.request("/")
                got = answer(c)
                if isinstance(got, str):
                    mine.append(got)
                    return
                status, h, body = got
                if status == 503:
                    check_busy(status, h, body, c)
                    c.close()
                    c = None
                else:
                    assert (status, body) == (200, HELLO), (status, body)
                mine.append(status)
            if hold:
                done.wait(30)
        except (OSError, AssertionError) as e:
            mine.append(repr(e))
        finally:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=client, args=(results[i],), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    go.set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(map(len, results)) < clients * requests:
        if any(r and isinstance(r[-1], str) for r in results):
            break
        time.sleep(0.05)
    done.set()
    for t in threads:
        t.join(max(1, deadline - time.monotonic()))
    return results


def test_a_storm_of_keep_alive_clients_beyond_the_slots_is_answered_whole(features):
    # 100 clients overflow the default backlog (4 × 8): the kernel has the others retry
    srv = features(max_connections=SLOTS)
    # every slot busy once first: that grows the heap once by a few hundred bytes, storm or not
    warm = [Conn(srv.port) for _ in range(SLOTS)]
    for c in warm:
        c.request("/")
        assert c.response()[0] == 200
    for c in warm:
        c.close()
    time.sleep(0.3)
    before = heap_in_use(srv.port)
    # each holds its keep-alive connection open after its answer, so the slots stay taken
    results = storm(srv.port, CLIENTS, requests=1, hold=True)
    failed = [r for r in results if len(r) != 1 or r[0] not in (200, 503)]
    assert not failed, failed
    served = sum(r == [200] for r in results)
    assert served >= SLOTS, "only %d of %d clients got the page" % (served, CLIENTS)
    time.sleep(0.3)  # the closed connections give their slots back
    # the server serves as before: one keep-alive connection, several requests
    c = Conn(srv.port)
    for _ in range(3):
        c.request("/")
        status, _, body, _ = c.response()
        assert (status, body) == (200, HELLO)
    c.close()
    assert heap_in_use(srv.port) <= before + 512
    assert srv.alive()


def test_clients_that_ask_again_at_once_never_lose_a_request(features):
    # wrk's pattern: the next request leaves the moment the answer is in. A full server must
    # not close a connection it has just served to admit a newcomer: the request on its way
    # would meet a closed socket (a reset, or an end without an answer).
    srv = features(max_connections=SLOTS)
    results = storm(srv.port, 3 * SLOTS, requests=30, hold=False)
    failed = [r for r in results if len(r) != 30 or not set(r) <= {200, 503}]
    assert not failed, failed
    assert sum(r.count(200) for r in results) >= SLOTS * 30
    assert get(srv.port, "/")[0] == 200
    assert srv.alive()
