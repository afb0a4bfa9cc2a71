"""examples/reporter against a real Mosquitto: readings arrive numbered at a subscriber, the page
and /status show the queue and the connection, and a broker outage only delays readings."""

import http.server
import json
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "examples" / "reporter"


def get_status(server):
    with urllib.request.urlopen(server.url + "/status", timeout=10) as res:
        return json.loads(res.read())


def wait_until(check, server, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not within %ss; status %s; console:\n%s" % (timeout, get_status(server), server.console()))


@pytest.mark.persistent_broker  # the collector's session survives the restart
def test_the_reporter_publishes_shows_its_state_and_rides_out_an_outage(tmp_path, own_broker, serve):
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    (app / "reporter.json").write_text(json.dumps(
        {"port": own_broker.port, "every": 0.5, "topic": "kiln/reporter", "client_id": "reporter-test"}))
    collected = tmp_path / "collected.txt"
    with open(collected, "w") as out:
        sub = own_broker.sub("kiln/reporter", 1000, timeout=60, client_id="reporter-collector",
                             clean=False, out=out)
    server = serve(app)
    wait_until(lambda: get_status(server)["connected"] and get_status(server)["readings"] >= 3, server)
    with urllib.request.urlopen(server.url + "/", timeout=10) as res:
        page = res.read().decode()
    assert "<th>connected</th><td>True</td>" in page and "<th>pending</th>" in page

    own_broker.stop()
    offline = wait_until(lambda: (lambda s: s if not s["connected"] and s["pending"] >= 3 else None)(
        get_status(server)), server)
    assert offline["last_error"]
    own_broker.start()
    done = wait_until(lambda: (lambda s: s if s["connected"] and s["pending"] == 0 else None)(
        get_status(server)), server)

    def numbers():
        found = set()
        for line in collected.read_text().splitlines():
            topic, payload = line.split(" ", 1)
            found.add(json.loads(payload)["n"])
        return found

    last = done["last"]["n"]
    wait_until(lambda: set(range(last + 1)) <= numbers(), server)
    sub.terminate()
    sub.wait(10)
    assert server.alive()


class Collector(http.server.BaseHTTPRequestHandler):
    """An HTTP API that refuses its first posts (503), then keeps what it gets."""

    received: list = []
    refuse = 3

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Collector.refuse > 0:
            Collector.refuse -= 1
            self.send_response(503)
        else:
            Collector.received.append(json.loads(body))
            self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_readings_are_posted_to_an_http_api_and_kept_until_it_takes_them(tmp_path, own_broker, serve):
    api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    try:
        app = tmp_path / "app"
        shutil.copytree(APP, app)
        (app / "reporter.json").write_text(json.dumps(
            {"port": own_broker.port, "every": 0.3, "client_id": "reporter-http",
             "post_url": "http://127.0.0.1:%d/readings" % api.server_address[1]}))
        server = serve(app)
        # the first posts are refused: the readings wait in the outbox, then all go
        done = wait_until(lambda: (lambda s: s if s["readings"] >= 6 and s["post_pending"] == 0 else None)(
            get_status(server)), server)
        numbers = sorted(r["n"] for r in Collector.received)
        assert numbers[:done["readings"]] == list(range(done["readings"]))
        assert Collector.refuse == 0
    finally:
        api.shutdown()
