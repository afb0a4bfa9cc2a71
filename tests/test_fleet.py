"""A fleet sketch: many boards (examples/reporter in the unix firmware, one process each) report
to one Mosquitto, and a subscriber counts every reading. KILN_FLEET (50 reporters) and
KILN_FLEET_SECONDS (20 here; the README quotes a 60 s run) size it."""

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "examples" / "reporter"
REPORTERS = int(os.environ.get("KILN_FLEET", "50"))
SECONDS = float(os.environ.get("KILN_FLEET_SECONDS", "20"))


def status(server):
    with urllib.request.urlopen(server.url + "/status", timeout=10) as res:
        return json.loads(res.read())


def test_every_reading_of_a_fleet_reaches_the_broker(tmp_path, own_broker, serve):
    collected = tmp_path / "collected.txt"
    with open(collected, "w") as out:
        sub = own_broker.sub("kiln/fleet/#", 10**6, timeout=int(SECONDS) + 120, out=out)
    servers = []
    for i in range(REPORTERS):
        app = tmp_path / ("board%d" % i)
        shutil.copytree(APP, app)
        (app / "reporter.json").write_text(json.dumps(
            {"port": own_broker.port, "every": 1, "topic": "kiln/fleet/%d" % i, "client_id": "board-%d" % i}))
        servers.append(serve(app))
    time.sleep(SECONDS)
    # Each board's count once its outbox is empty: every reading below it must have arrived.
    produced = {}
    deadline = time.monotonic() + 30
    while len(produced) < REPORTERS and time.monotonic() < deadline:
        for i, server in enumerate(servers):
            if i not in produced:
                s = status(server)
                if s["connected"] and s["pending"] == 0:
                    produced[i] = s["readings"]
        time.sleep(0.2)
    holding = sorted(set(range(REPORTERS)) - set(produced))
    assert not holding, "boards still holding readings: %s" % holding
    received = {i: set() for i in range(REPORTERS)}

    def missing():
        for line in collected.read_text().splitlines():
            topic, payload = line.split(" ", 1)
            if not topic.endswith("/status"):
                received[int(topic.rsplit("/", 1)[1])].add(json.loads(payload)["n"])
        return {i: sorted(set(range(n)) - received[i]) for i, n in produced.items() if set(range(n)) - received[i]}

    deadline = time.monotonic() + 20
    while missing() and time.monotonic() < deadline:
        time.sleep(0.5)
    sub.terminate()
    assert missing() == {}
    total = sum(produced.values())
    # each board read its sensor about once a second
    assert total >= REPORTERS * (SECONDS - 5), total
    print("fleet: %d boards, %d readings in %.0f s, all received" % (REPORTERS, total, SECONDS))
