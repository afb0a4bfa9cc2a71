"""examples/reporter against a real Mosquitto: readings arrive numbered at a subscriber, the page
and /status show the queue and the connection, and a broker outage only delays readings."""

import json
import shutil
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
