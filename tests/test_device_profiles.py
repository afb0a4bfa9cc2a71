"""The device profiles: the 32-bit firmware (make unix-device) run with a device's heap serves
the examples and a dashboard-class app under keep-alive load, and a small heap never wedges the
server. ESP8266: -X heapsize=38k (the port's whole GC heap); ESP32 without SPIRAM: 110k."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import DEVICE_FIRMWARE
from http_client import Conn

ROOT = Path(__file__).resolve().parent.parent
ESP8266_HEAP = "38k"
ESP32_HEAP = "110k"

pytestmark = pytest.mark.skipif(not DEVICE_FIRMWARE.exists(), reason="make unix-device first")

# Run after `import main`: prints the free heap, and adds a route that reports it after a collect.
HEAP_SETUP = (
    "import gc; gc.collect(); print('Kiln: heap free after import: %d' % gc.mem_free()); "
    "main.app.get('/__heap')(lambda r: (gc.collect(), str(gc.mem_free()))[1]); "
)


def heap_after_import(srv):
    line = next(x for x in srv.console().splitlines() if x.startswith("Kiln: heap free after import"))
    return int(line.rsplit(" ", 1)[1])


def heap_now(conn):
    conn.request("/__heap")
    status, _, body, _ = conn.response()
    assert status == 200
    return int(body)


def ok_text(text):
    return lambda status, headers, body: status == 200 and body == text


def ok_contains(text):
    return lambda status, headers, body: status == 200 and text in body


def ok_json(value):
    return lambda status, headers, body: status == 200 and json.loads(body) == value


def exchange(conn, cookie, method, path, body):
    headers = [("Content-Type", "application/json")] if body else []
    if cookie:
        headers.append(("Cookie", cookie))
    conn.request(path, method, headers, body)


def load(port, requests, connections, total=1000, first=()):
    """Sends `total` requests over `connections` keep-alive connections, one in flight on each,
    cycling through `requests` ((method, path, body, check) tuples) after the `first` ones,
    sent on the first connection alone; each connection keeps its session cookie. Returns the
    responses that failed their check and the open connections.

    The connections open one after the other, each answered once before the next opens: a
    client the server has not yet seen closing (the readiness probe) still holds its slot."""
    conns = [Conn(port)]
    cookies = [None] * connections
    failed = []
    for method, path, body, check in first:
        exchange(conns[0], None, method, path, body)
        if not check(*conns[0].response()[:3]):
            failed.append(path)
    sent = 0
    while sent < total:
        batch = []
        if len(conns) < connections:
            conns.append(Conn(port))
        for i, c in enumerate(conns[: total - sent]):
            method, path, body, check = requests[(sent + i) % len(requests)]
            exchange(c, cookies[i], method, path, body)
            batch.append((i, c, path, check))
        for i, c, path, check in batch:
            status, headers, body, _ = c.response()
            if "set-cookie" in headers:
                cookies[i] = headers["set-cookie"].split(";", 1)[0]
            if not check(status, headers, body):
                failed.append((path, status, body[:80]))
        sent += len(batch)
    return failed, conns


def serve_under_load(serve, record_property, app_dir, heapsize, requests, connections, prepare=()):
    # the firmware caps connections at the ESP8266's KILN_MAX_CONNECTIONS (4); an ESP32 board
    # allows 8 (boards/ESP32_GENERIC/mpconfigboard.h)
    srv = serve(app_dir, heapsize=heapsize, firmware=DEVICE_FIRMWARE, setup=HEAP_SETUP,
                run_args=", max_connections=%d" % connections)
    failed, conns = load(srv.port, requests, connections, first=prepare)
    assert failed == [], failed[:5]
    after_import, after_load = heap_after_import(srv), heap_now(conns[0])
    for c in conns:
        c.close()
    name = Path(app_dir).name
    print("%s, -X heapsize=%s: %d B free after import, %d B after 1,000 requests on %d connections"
          % (name, heapsize, after_import, after_load, connections))
    record_property("heap_free_after_import", after_import)
    record_property("heap_free_after_1000_requests", after_load)
    assert srv.alive()


def test_hello_serves_1000_keep_alive_requests_in_the_esp8266_profile(serve, record_property):
    requests = [("GET", "/", b"", ok_text(b"Hello, world!"))]
    serve_under_load(serve, record_property, ROOT / "examples" / "hello", ESP8266_HEAP, requests, 4)


def test_rest_api_serves_1000_keep_alive_requests_in_the_esp8266_profile(serve, record_property):
    lamp = {"name": "lamp", "price": 3, "id": 1}
    body = json.dumps({"name": "lamp", "price": 3}).encode()
    created = [("POST", "/api/items", body, lambda s, h, b: s == 201 and json.loads(b) == lamp)]
    requests = [
        ("GET", "/api/items/1", b"", ok_json(lamp)),
        ("GET", "/api/items", b"", ok_json([lamp])),
        ("PUT", "/api/items/1", body, ok_json(lamp)),
        ("GET", "/api/items/9", b"", lambda s, h, b: s == 404),
    ]
    serve_under_load(serve, record_property, ROOT / "examples" / "rest_api", ESP8266_HEAP, requests, 4,
                     prepare=created)


def test_a_frozen_template_page_serves_1000_keep_alive_requests_in_the_esp8266_profile(
        serve, record_property):
    requests = [
        ("GET", "/", b"", ok_contains(b"<h2><a href=\"/post/2\">Templates in &lt;firmware&gt;</a></h2>")),
        ("GET", "/post/1", b"", ok_contains(b"<h1>Hello, Kiln</h1>")),
    ]
    serve_under_load(serve, record_property, ROOT / "tests" / "apps" / "template_page", ESP8266_HEAP,
                     requests, 4)


def test_a_dashboard_app_serves_1000_keep_alive_requests_in_the_esp32_profile(serve, record_property):
    visits = []

    def counted(status, headers, body):
        visits.append(json.loads(body)["visits"] if status == 200 else 0)
        return status == 200 and headers["x-served-to"] == "guest"

    requests = [
        ("GET", "/", b"", ok_contains(b"<h1>Dashboard</h1>")),
        ("GET", "/sensor/2", b"", ok_json({"id": 2, "title": "Cellar", "body": "12.0 C, 80 %",
                                           "author": "probe", "tags": []})),
        ("POST", "/visit", b"{}", counted),
    ]
    serve_under_load(serve, record_property, ROOT / "tests" / "apps" / "device_dashboard", ESP32_HEAP,
                     requests, 8)
    # each connection sends its session cookie back: 1,000 requests on 8, every third a visit
    assert max(visits) >= 40


# --- a small heap never wedges the server ---------------------------------------------------------

OOM_APP = ROOT / "tests" / "apps" / "device_oom"


def answer(port, path):
    """The status of one request on a new connection, or the name of the error that ended it."""
    try:
        c = Conn(port)
        c.request(path)
        status = c.response()[0]
        c.close()
        return status
    except OSError as e:
        return type(e).__name__
    except EOFError:
        return "closed without an answer"


@pytest.mark.parametrize("heapsize", [ESP8266_HEAP, "30k"])
def test_after_a_burst_that_exhausts_the_heap_every_client_is_answered_and_then_served(serve, heapsize):
    # more connections than the heap holds: the burst's views run out of memory mid-flight
    srv = serve(OOM_APP, heapsize=heapsize, firmware=DEVICE_FIRMWARE, run_args=", max_connections=16")
    paths = ["/oom" if i % 3 == 0 else "/hold" for i in range(60)]
    with ThreadPoolExecutor(60) as pool:
        burst = list(pool.map(lambda p: answer(srv.port, p), paths))
    assert set(burst) <= {200, 500, 503}, burst
    assert burst.count(500) > 0
    after = [answer(srv.port, "/") for _ in range(100)]
    assert after == [200] * 100, after
    assert srv.alive()


@pytest.mark.parametrize("app_dir", [OOM_APP, ROOT / "tests" / "apps" / "server_features"],
                         ids=["App", "plain handler"])
def test_a_view_out_of_memory_gets_a_500_with_a_body_and_one_console_line(serve, app_dir):
    # the App answers from Python once the view's garbage is freed; a plain handler's
    # MemoryError reaches the C loop, which writes a response that needs no heap
    srv = serve(app_dir, heapsize=ESP8266_HEAP, firmware=DEVICE_FIRMWARE)
    c = Conn(srv.port)
    c.request("/oom")
    status, headers, body, _ = c.response()
    assert (status, body) == (500, b"Internal Server Error")
    assert int(headers["content-length"]) == len(body)
    c.close()
    assert answer(srv.port, "/") == 200
    lines = [x for x in srv.console().splitlines() if not x.startswith("Kiln: serving")]
    assert len(lines) == 1 and "MemoryError" in lines[0], lines
