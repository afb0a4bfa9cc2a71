# A sensor that reports: every few seconds it reads a (simulated) sensor, keeps the reading in an
# outbox on flash and publishes it to an MQTT broker with QoS 1; its own page shows the queue and
# the connection. Settings come from reporter.json beside main.py (see README.md).
import asyncio
import json
import time

from kiln import App, Response
from kiln import client as http
from kiln.mqtt import MQTTClient
from kiln.outbox import Outbox

SETTINGS: dict = {"broker": "127.0.0.1", "port": 1883, "client_id": "kiln-reporter",
            "topic": "kiln/reporter/readings", "every": 5, "outbox": "outbox", "max_records": 1000,
            "post_url": None}
try:
    with open("reporter.json") as f:
        SETTINGS.update(json.load(f))
except OSError:
    pass  # the defaults

app = App()
box = Outbox(SETTINGS["outbox"], max_records=SETTINGS["max_records"])
client = MQTTClient(SETTINGS["client_id"], SETTINGS["broker"], SETTINGS["port"], keepalive=30,
                    clean=False, will=(SETTINGS["topic"] + "/status", "offline", 1, True))
state: dict = {"readings": 0, "last": None, "post_error": None}
# Readings for an HTTP endpoint too (post_url): an outbox of their own, acknowledged by a 2xx.
posts = Outbox(SETTINGS["outbox"] + "-http", max_records=SETTINGS["max_records"]) if SETTINGS["post_url"] else None


def read_sensor():
    """A temperature that drifts slowly; on a board, read an ADC or an I2C sensor here."""
    return round(20 + time.time() % 600 / 100, 2)


async def send(record):
    return await client.publish(SETTINGS["topic"], record, qos=1)


async def post(record):
    try:
        res = await http.post(SETTINGS["post_url"], data=record, headers={"Content-Type": "application/json"},
                              timeout=10)
        await res.close()
    except (OSError, http.ClientError) as e:
        state["post_error"] = repr(e)
        return False
    state["post_error"] = None if res.status < 300 else "HTTP %d" % res.status
    return 200 <= res.status < 300


async def report():
    # Readings are numbered from where the outbox left off, so a collector can tell one lost.
    n = box.pending + box.dropped
    while True:
        state["last"] = {"n": n, "t": read_sensor()}
        box.put(state["last"])
        if posts is not None:
            posts.put(state["last"])
        n += 1
        state["readings"] += 1
        if client.connected:
            await box.drain(send)
        if posts is not None:
            await posts.drain(post)
        await asyncio.sleep(SETTINGS["every"])


def status():
    return {"connected": client.connected, "connections": client.connections,
            "last_error": repr(client.last_error) if client.last_error else None,
            "pending": box.pending, "dropped": box.dropped, "readings": state["readings"],
            "last": state["last"], "broker": "%s:%d" % (client.host, client.port),
            "post_pending": posts.pending if posts else None, "post_error": state["post_error"]}


@app.get("/status")
def status_json(request):
    return status()


@app.get("/")
def index(request):
    rows = "".join("<tr><th>%s</th><td>%s</td></tr>" % (k, str(v).replace("&", "&amp;").replace("<", "&lt;"))
                   for k, v in sorted(status().items()))
    return Response("<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
                    "<title>Reporter</title><h1>Reporter</h1><table>%s</table>" % rows,
                    headers={"Content-Type": "text/html; charset=UTF-8"})


# Tasks made now start with the loop that app.run() (or `make run`) begins, next to the server.
asyncio.create_task(client.run())
asyncio.create_task(report())

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
