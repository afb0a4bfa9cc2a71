"""kiln.mqtt in the unix firmware against a real Mosquitto (tests/mqtt_broker.py), with
mosquitto_pub/mosquitto_sub as the other party, and against small fake brokers for what a real
one never does (garbage, a lost PUBACK)."""

import socket
import subprocess
import threading
import time

import pytest
from mqtt_broker import make_certs

CLIENT = """import asyncio, sys
from kiln.mqtt import MQTTClient
PORT = %d

def client(name, **kw):
    return MQTTClient(name, "127.0.0.1", PORT, **kw)

async def main():
%s

asyncio.run(main())
"""


def script(port, body):
    return CLIENT % (port, "\n".join("    " + line for line in body.strip("\n").splitlines()))


def lines(proc):
    out, err = proc.communicate(timeout=30)
    return out.splitlines()


def test_qos0_publish_reaches_a_subscriber(broker, upy_script):
    sub = broker.sub("kiln/q0", 1)
    run = upy_script("pub", script(broker.port, """
c = client("pub-q0")
await c.connect()
print(await c.publish("kiln/q0", "hello"))
await c.disconnect()
"""))
    assert run.finish().split() == ["True"]
    assert lines(sub) == ["kiln/q0 hello"]


def test_qos1_publish_returns_true_once_the_broker_acknowledged_it(broker, upy_script):
    sub = broker.sub("kiln/q1", 1)
    run = upy_script("pub", script(broker.port, """
c = client("pub-q1")
await c.connect()
print(await c.publish("kiln/q1", b"\\x00\\x01binary", qos=1))
await c.disconnect()
"""))
    assert run.finish().split() == ["True"]
    assert lines(sub) == ["kiln/q1 \x00\x01binary"]
    log = broker.log()
    assert "Received PUBLISH from pub-q1 (d0, q1" in log and "Sending PUBACK to pub-q1" in log


def test_messages_from_a_peer_arrive_through_messages(broker, upy_script):
    run = upy_script("sub", script(broker.port, """
c = client("sub-iter")
await c.connect()
print("granted", await c.subscribe("kiln/in/+", qos=1))
n = 0
async for topic, payload, retained in c.messages():
    print(topic, payload, retained)
    n += 1
    if n == 2:
        break
await c.disconnect()
"""))
    run.wait_for("granted 1")
    broker.pub("kiln/in/a", "zero", qos=0)
    broker.pub("kiln/in/b", "one", qos=1)
    assert run.finish().splitlines()[1:] == ["kiln/in/a b'zero' False", "kiln/in/b b'one' False"]
    assert "Received PUBACK from sub-iter" in broker.log()


def test_a_callback_receives_messages(broker, upy_script):
    run = upy_script("cb", script(broker.port, """
got = asyncio.Event()
async def on_message(topic, payload, retained):
    print("cb", topic, payload)
    got.set()
c = client("sub-cb", callback=on_message)
await c.connect()
await c.subscribe("kiln/cb")
print("ready")
await got.wait()
await c.disconnect()
"""))
    run.wait_for("ready")
    broker.pub("kiln/cb", "called")
    assert "cb kiln/cb b'called'" in run.finish()


def test_qos0_messages_beyond_max_queue_are_dropped_and_counted(broker, upy_script):
    run = upy_script("full", script(broker.port, """
c = client("sub-full")
c.max_queue = 3
await c.connect()
await c.subscribe("kiln/full")
print("ready")
while c.dropped < 2:
    await asyncio.sleep(0.05)
got = []
while len(got) < 3:
    got.append((await c.receive())[1])
print(got, c.dropped)
await c.disconnect()
"""))
    run.wait_for("ready")
    for i in range(5):
        broker.pub("kiln/full", "m%d" % i)
    assert run.finish().splitlines()[-1] == "[b'm0', b'm1', b'm2'] 2"


def test_unsubscribe_stops_the_messages(broker, upy_script):
    run = upy_script("unsub", script(broker.port, """
c = client("sub-unsub")
await c.connect()
await c.subscribe("kiln/unsub/a")
await c.subscribe("kiln/unsub/b")
await c.unsubscribe("kiln/unsub/a")
print("ready")
print(await c.receive())
await c.disconnect()
"""))
    run.wait_for("ready")
    broker.pub("kiln/unsub/a", "not for me")
    broker.pub("kiln/unsub/b", "for me")
    assert run.finish().splitlines()[-1] == "('kiln/unsub/b', b'for me', False)"


def test_a_retained_message_arrives_flagged_on_subscribing(broker, upy_script):
    broker.pub("kiln/retained", "kept", retain=True)
    run = upy_script("ret", script(broker.port, """
c = client("sub-ret")
await c.connect()
await c.subscribe("kiln/retained")
print(await c.receive())
print(await c.publish("kiln/retained", "", retain=True))
await c.disconnect()
"""))
    assert run.finish().splitlines() == ["('kiln/retained', b'kept', True)", "True"]


def test_the_last_will_is_published_when_the_client_dies(broker, upy_script):
    sub = broker.sub("kiln/will", 1)
    run = upy_script("will", script(broker.port, """
c = client("will-1", will=("kiln/will", "gone", 1, False))
await c.connect()
print("ready")
await asyncio.sleep(60)
"""))
    run.wait_for("ready")
    run.kill()
    assert lines(sub) == ["kiln/will gone"]


def test_no_will_after_a_clean_disconnect(broker, upy_script):
    sub = broker.sub("kiln/will2", 1, timeout=2)
    run = upy_script("will2", script(broker.port, """
c = client("will-2", will=("kiln/will2", "gone"))
await c.connect()
await c.disconnect()
"""))
    run.finish()
    assert lines(sub) == []


def test_an_idle_client_pings_and_stays_connected(broker, upy_script):
    run = upy_script("idle", script(broker.port, """
c = client("idle-1", keepalive=1)
await c.connect()
await asyncio.sleep(4)
print(c.connected, c.connections, c.last_error)
await c.disconnect()
"""))
    assert run.finish(timeout=15).split() == ["True", "1", "None"]
    assert broker.log().count("Received PINGREQ from idle-1") >= 3


def test_a_persistent_session_keeps_subscriptions_and_redelivers_unacknowledged_qos1(broker, upy_script):
    first = upy_script("first", script(broker.port, """
async def stall(topic, payload, retained):
    print("got", payload)
    await asyncio.sleep(60)   # never returns: no PUBACK
c = client("persist-1", clean=False, callback=stall)
await c.connect()
await c.subscribe("kiln/persist", qos=1)
print("ready")
await asyncio.sleep(60)
"""))
    first.wait_for("ready")
    broker.pub("kiln/persist", "unacked", qos=1)
    first.wait_for("got b'unacked'")
    first.kill()
    broker.pub("kiln/persist", "offline", qos=1)
    second = upy_script("second", script(broker.port, """
c = client("persist-1", clean=False)
await c.connect()
print(await c.receive())
print(await c.receive())
await c.disconnect()
"""))
    assert second.finish().splitlines() == ["('kiln/persist', b'unacked', False)",
                                            "('kiln/persist', b'offline', False)"]
    assert "Sending PUBLISH to persist-1 (d1, q1" in broker.log()


def tls_context(ca):
    # the unix firmware's Mbed TLS verifies the broker against the test CA (given in DER)
    der = subprocess.run(["openssl", "x509", "-in", str(ca), "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return """
import ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=%r)
""" % der


def test_tls_round_trip_with_the_broker_verified(broker, upy_script):
    run = upy_script("tls", script(broker.tls_port, tls_context(broker.ca) + """
c = client("tls-1", ssl=ctx)
await c.connect()
await c.subscribe("kiln/tls", qos=1)
print(await c.publish("kiln/tls", "x" * 3000, qos=1))
topic, payload, retained = await c.receive()
print(topic, len(payload))
await c.disconnect()
"""))
    assert run.finish().splitlines() == ["True", "kiln/tls 3000"]
    assert "New client connected from 127.0.0.1" in broker.log()


def test_a_broker_signed_by_another_ca_is_refused(broker, upy_script, tmp_path):
    other_ca = make_certs(tmp_path)[0]
    run = upy_script("tls-bad", script(broker.tls_port, tls_context(other_ca) + """
c = client("tls-2", ssl=ctx)
try:
    await c.connect()
    print("connected")
except Exception as e:
    print("refused", type(e).__name__)
"""))
    out = run.finish()
    assert out.startswith("refused"), out
    assert "tls-2" not in broker.log().split("New client connected")[-1]


def test_run_reconnects_and_resubscribes_after_the_broker_restarts(own_broker, upy_script):
    run = upy_script("restart", script(own_broker.port, """
c = client("restart-1", keepalive=5)
c.max_backoff = 1
await c.subscribe("kiln/restart", qos=1)
asyncio.create_task(c.run())
while not c.connected:
    await asyncio.sleep(0.05)
print("up")
while c.connections < 2 or not c.connected:
    await asyncio.sleep(0.05)
print("reconnected")
print(await c.receive())
await c.disconnect()
"""))
    run.wait_for("up")
    own_broker.stop()
    own_broker.start()
    run.wait_for("reconnected")
    time.sleep(0.5)  # the SUBSCRIBE follows the CONNACK
    own_broker.pub("kiln/restart", "after", qos=1)
    assert run.finish().splitlines()[-1] == "('kiln/restart', b'after', False)"


class FakeBroker:
    """A one-thread TCP server that plays `sessions`, one function per connection in turn,
    each given the connected socket; what it records goes to .seen."""

    def __init__(self, sessions):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(20)
        self.port = self.listener.getsockname()[1]
        self.seen = []
        self.error = None
        self.thread = threading.Thread(target=self._serve, args=(sessions,), daemon=True)
        self.thread.start()

    def _serve(self, sessions):
        try:
            for session in sessions:
                conn, _ = self.listener.accept()
                conn.settimeout(10)
                with conn:
                    session(self, conn)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def read_packet(self, conn):
        first = conn.recv(1)[0]
        size = shift = 0
        while True:
            byte = conn.recv(1)[0]
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        body = b""
        while len(body) < size:
            body += conn.recv(size - len(body))
        return first, body

    def close(self):
        self.thread.join(20)
        self.listener.close()


def accept(fake, conn, present=0):
    first, _ = fake.read_packet(conn)
    assert first == 0x10
    conn.sendall(bytes((0x20, 2, present, 0)))


def serve_publishes(fake, conn):
    """A well-behaved broker for one connection: acknowledge QoS 1 publishes until DISCONNECT."""
    accept(fake, conn)
    while True:
        first, body = fake.read_packet(conn)
        fake.seen.append((first, body))
        if first == 0xE0:
            return
        if first & 0xF6 == 0x32:  # PUBLISH, QoS 1
            conn.sendall(b"\x40\x02" + body[2 + int.from_bytes(body[:2], "big"):][:2])


GARBAGE = {
    "a remaining length over 4 bytes": b"\x30\xff\xff\xff\xff\x01",
    "a reserved packet type": b"\x00\x00",
    "a PUBLISH whose topic overruns it": b"\x30\x03\x00\x09a",
    "QoS 3": b"\x36\x05\x00\x01a\x00\x01",
    "a PUBACK of 3 bytes": b"\x40\x03\x00\x01\x00",
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=list(GARBAGE))
def test_a_broker_sending_garbage_is_dropped_and_the_client_reconnects(garbage, upy_script):
    def bad(fake, conn):
        accept(fake, conn)
        conn.sendall(garbage)
        time.sleep(0.5)

    fake = FakeBroker([bad, serve_publishes])
    run = upy_script("garbage", script(fake.port, """
c = client("garbage-1")
c.min_backoff = 1
asyncio.create_task(c.run())
while c.connections < 2 or not c.connected:
    await asyncio.sleep(0.05)
print("error", type(c.last_error).__name__)
print(await c.publish("t", "fine", qos=1))
await c.disconnect()
"""))
    out = run.finish()
    fake.close()
    assert fake.error is None, fake.error
    assert out.splitlines()[-1] == "True", out
    assert "error MQTTError" in out, out
    assert fake.seen[0][0] == 0x32


def test_run_backs_off_exponentially_from_a_broker_that_keeps_failing(upy_script):
    accepted = []

    def bad(fake, conn):
        accepted.append(time.monotonic())
        accept(fake, conn)
        conn.sendall(b"\x00\x00")  # garbage at once: every connection fails right away

    fake = FakeBroker([bad] * 4)
    run = upy_script("backoff", script(fake.port, """
c = client("backoff-1")
c.min_backoff = 0.2
asyncio.create_task(c.run())
while c.connections < 4:
    await asyncio.sleep(0.02)
await c.disconnect()
print("done", repr(c.last_error))
"""))
    out = run.finish()
    fake.close()
    assert "done MQTTError" in out, out
    gaps = [b - a for a, b in zip(accepted, accepted[1:], strict=False)]
    for k, gap in enumerate(gaps):  # 0.2 s doubling, jittered to half of it at least
        assert 0.1 * 2 ** k - 0.02 <= gap <= 0.2 * 2 ** k + 0.3, gaps


def test_a_garbage_connack_fails_connect_with_mqtt_error(upy_script):
    def bad(fake, conn):
        fake.read_packet(conn)
        conn.sendall(b"\x20\x02\x00\x05")  # refused: not authorised

    fake = FakeBroker([bad])
    run = upy_script("refused", script(fake.port, """
from kiln.mqtt import MQTTError
c = client("refused-1", user="u", password="p")
try:
    await c.connect()
except MQTTError as e:
    print("refused", e.args[0], c.connected)
"""))
    assert run.finish().strip() == "refused 5 False"
    fake.close()


def test_an_unacknowledged_qos1_publish_is_sent_again_with_dup_after_reconnecting(upy_script):
    def drop_before_puback(fake, conn):
        accept(fake, conn)
        fake.seen.append(fake.read_packet(conn))  # the PUBLISH, then the link drops

    fake = FakeBroker([drop_before_puback, serve_publishes])
    run = upy_script("dup", script(fake.port, """
c = client("dup-1", clean=False)
c.min_backoff = 1
asyncio.create_task(c.run())
while not c.connected:
    await asyncio.sleep(0.05)
print(await c.publish("kiln/dup", "once", qos=1), c.connections)
await c.disconnect()
"""))
    out = run.finish()
    fake.close()
    assert fake.error is None, fake.error
    assert out.split() == ["True", "2"]
    (first1, body1), (first2, body2) = fake.seen[:2]
    assert (first1, first2) == (0x32, 0x3A)  # QoS 1, then QoS 1 with DUP
    assert body1 == body2  # same packet id, topic and payload


def test_a_qos1_publish_never_acknowledged_returns_false_after_ack_timeout(upy_script):
    def no_puback(fake, conn):
        accept(fake, conn)
        fake.seen.append(fake.read_packet(conn))
        time.sleep(3)

    fake = FakeBroker([no_puback])
    run = upy_script("noack", script(fake.port, """
import time
c = client("noack-1")
c.ack_timeout = 1
await c.connect()
t = time.ticks_ms()
print(await c.publish("kiln/noack", "lost?", qos=1), 1000 <= time.ticks_diff(time.ticks_ms(), t) < 1500)
"""))
    assert run.finish().split() == ["False", "True"]
    fake.close()
    assert fake.seen[0][0] == 0x32


def test_a_silent_broker_is_detected_dead_after_one_and_a_half_keepalives(upy_script):
    def silent(fake, conn):
        accept(fake, conn)
        time.sleep(4)

    fake = FakeBroker([silent])
    run = upy_script("silent", script(fake.port, """
import time
c = client("silent-1", keepalive=1)
await c.connect()
t = time.ticks_ms()
while c.connected:
    await asyncio.sleep(0.05)
print(1500 <= time.ticks_diff(time.ticks_ms(), t) < 2500, repr(c.last_error))
"""))
    assert run.finish().strip() == "True OSError(110,)"
    fake.close()
