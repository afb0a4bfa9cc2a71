"""kiln.hub over real sockets: event streams and WebSockets fed by one Hub (tests/apps/hub_sse)
reach every client, a client that stops reading is dropped while the others keep receiving (a
WebSocket then gets a close with 1013), and the hub forgets the clients that leave."""

import http.client
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, TextMessage
from wsproto.events import Request as WSRequest

APP = Path(__file__).resolve().parent / "apps" / "hub_sse"
RUN_ARGS = ", max_connections=48, max_per_client=0"


@pytest.fixture
def server(serve):
    return serve(APP, run_args=RUN_ARGS)


def call(server, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"} if body is not None else {})
        res = conn.getresponse()
        assert res.status == 200, (res.status, res.read())
        return json.loads(res.read())
    finally:
        conn.close()


def publish(server, topic, n, pad=0):
    return call(server, "POST", "/publish", {"topic": topic, "n": n, "pad": pad})["delivered"]


def stats(server):
    return call(server, "GET", "/stats")


def wait_for(what, check, seconds=10):
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def keeping_up(readers, n):
    # paces the publisher: a stream more than its queues behind would be dropped, rightly
    wait_for("event %d" % n, lambda: all(r.last() >= n - 2 for r in readers))


def open_stream(server, query="", rcvbuf=None):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(b"GET /events%s HTTP/1.1\r\nHost: x\r\n\r\n" % query.encode())
    return sock


class Reader(threading.Thread):
    """One event-stream client that reads everything: events holds (event, n) in order."""

    def __init__(self, server, query=""):
        super().__init__(daemon=True)
        self.sock = open_stream(server, query)
        self.events = []
        self.error = None
        self.start()

    def last(self):
        return self.events[-1][1] if self.events else 0

    def run(self):
        try:
            self._read()
        except (OSError, EOFError) as e:  # closed by the test, or a timeout the test reports
            self.error = e

    def _read(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self._recv()
        head, buf = buf.split(b"\r\n\r\n", 1)
        assert b"text/event-stream" in head and b"chunked" in head.lower()
        text = b""
        while True:  # undo the chunked framing, then split the stream into events
            while b"\r\n" not in buf:
                buf += self._recv()
            size, rest = buf.split(b"\r\n", 1)
            size = int(size, 16)
            if size == 0:
                return
            while len(rest) < size + 2:
                rest += self._recv()
            text += rest[:size]
            buf = rest[size + 2:]
            while b"\n\n" in text:
                event, text = text.split(b"\n\n", 1)
                self._event(event.decode())

    def _recv(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise EOFError("the server closed the stream")
        return data

    def _event(self, event):
        fields = dict(line.split(": ", 1) for line in event.split("\n") if not line.startswith(":"))
        if fields:
            self.events.append((fields.get("event"), json.loads(fields["data"])["n"]))

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's recv
        self.join(5)
        self.sock.close()


def test_every_stream_gets_each_event_of_its_topics(server):
    news = [Reader(server, "?topic=news") for _ in range(12)]
    every = [Reader(server) for _ in range(12)]
    wait_for("24 subscribers", lambda: stats(server)["count"] == 24)
    sent = []
    for n in range(1, 21):
        topic = "news" if n % 2 else "weather"
        assert publish(server, topic, n) == (24 if topic == "news" else 12)
        sent.append((topic, n))
        keeping_up(every, n)
    wait_for("the last events", lambda: all(r.last() == 20 for r in every) and
             all(r.last() == 19 for r in news))
    for r in every:
        assert r.events == sent
    for r in news:
        assert r.events == [e for e in sent if e[0] == "news"]
    for r in news + every:
        r.close()
    assert stats(server)["dropped"] == 0


def most_events(size):
    # twice the events of `size` bytes that fill the largest send buffer the kernel grows to
    # (tcp_wmem's maximum; 4 MB by default): the stalled stream cannot take more
    try:
        largest = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        largest = 4 << 20
    return 2 * largest // size + 50


def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving(server):
    stalled = open_stream(server, rcvbuf=4096)  # never reads: its buffers fill, then its queue
    readers = [Reader(server) for _ in range(20)]
    wait_for("21 subscribers", lambda: stats(server)["count"] == 21)
    n = 0
    while stats(server)["dropped"] == 0:
        n += 1
        assert n <= most_events(16000), "the stalled client was never dropped"
        assert publish(server, "t", n, pad=16000) >= 20
        keeping_up(readers, n)
    assert stats(server) == {"count": 20, "dropped": 1}
    for _ in range(5):
        n += 1
        assert publish(server, "t", n, pad=100) == 20
    wait_for("the last event", lambda: all(r.last() == n for r in readers))
    for r in readers:
        assert r.error is None and r.events == [("t", i) for i in range(1, n + 1)]
        r.close()
    stalled.close()


def test_the_hub_forgets_the_clients_that_leave(server):
    readers = [Reader(server, "?topic=a&topic=b") for _ in range(20)]
    wait_for("20 subscribers", lambda: stats(server)["count"] == 20)
    assert publish(server, "b", 1) == 20
    wait_for("event 1", lambda: all(r.last() == 1 for r in readers))
    for r in readers:
        r.close()
    # no event goes out: each stream's heartbeat (0.2 s in this app) finds its client gone
    wait_for("no subscriber", lambda: stats(server)["count"] == 0, seconds=5)
    assert stats(server)["dropped"] == 0 and server.alive()


# --- WebSockets ------------------------------------------------------------------------------


def test_websockets_get_each_event_and_leave_the_hub_at_once(server):
    url = "ws://127.0.0.1:%d/ws?topic=t" % server.port
    clients = [ws_connect(url, open_timeout=5) for _ in range(10)]
    wait_for("10 subscribers", lambda: stats(server)["count"] == 10)
    for n in range(1, 6):
        assert publish(server, "t", n) == 10
        assert publish(server, "other", n) == 0
    for ws in clients:
        assert [json.loads(ws.recv(timeout=5))["n"] for _ in range(5)] == [1, 2, 3, 4, 5]
    for ws in clients[:5]:
        ws.close()
    # the connection's own reader sees the close and cancels the view: no event needed
    wait_for("5 subscribers", lambda: stats(server)["count"] == 5, seconds=2)
    for ws in clients[5:]:
        ws.close()
    wait_for("no subscriber", lambda: stats(server)["count"] == 0, seconds=2)
    assert stats(server)["dropped"] == 0


def test_a_websocket_that_falls_behind_is_dropped_and_closed_with_1013(server):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", server.port))
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(WSRequest(host="127.0.0.1", target="/ws")))
    events = []
    while not any(isinstance(e, AcceptConnection) for e in events):
        ws.receive_data(sock.recv(65536))
        events += ws.events()
    wait_for("the subscriber", lambda: stats(server)["count"] == 1)
    n = 0
    while stats(server)["dropped"] == 0:  # the client reads nothing meanwhile
        n += 1
        assert n <= most_events(16000), "the stalled WebSocket was never dropped"
        publish(server, "t", n, pad=16000)
    assert stats(server)["count"] == 0
    # it reads at last: the messages under way, then the close frame with 1013
    got, close, text = [], None, ""
    while close is None:
        data = sock.recv(1 << 16)
        assert data, "the connection ended without a close frame"
        ws.receive_data(data)
        for e in ws.events():
            if isinstance(e, TextMessage):  # a message may come in pieces
                text += e.data
                if e.message_finished:
                    got.append(json.loads(text)["n"])
                    text = ""
            elif isinstance(e, CloseConnection):
                close = e.code
    sock.close()
    assert close == 1013 and got == list(range(1, len(got) + 1)) and 0 < len(got) < n
