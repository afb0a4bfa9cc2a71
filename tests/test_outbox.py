"""kiln.outbox across processes and faults: a reopen by a new process, a process killed in the
middle of writing, a full filesystem (a 64 KB tmpfs), and a broker outage while a reporter loop
publishes every second through the outbox to a real Mosquitto."""

import os
import signal
import subprocess
import time

import pytest
from conftest import run_upy

OPEN = "from kiln.outbox import Outbox\nbox = Outbox(%r, max_records=1000000)\n"


def upy(code):
    proc = run_upy(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_a_new_process_finds_the_pending_records(tmp_path):
    path = str(tmp_path / "box")
    upy(OPEN % path + "for i in range(10): box.put(b'r%d' % i)\nbox.ack(3)\n")
    assert upy(OPEN % path + "print(box.pending, box.peek(10))").strip() == (
        "7 [b'r3', b'r4', b'r5', b'r6', b'r7', b'r8', b'r9']")


def test_a_process_killed_while_writing_leaves_a_clean_outbox(tmp_path, upy_script):
    path = str(tmp_path / "box")
    writer = upy_script("writer", OPEN % path + "box.segment_size = 256\nprint('go')\ni = 0\n"
                        "while True:\n    box.put(b'%08d' % i + b'x' * 200)\n    i += 1\n")
    writer.wait_for("go")
    deadline = time.monotonic() + 10
    while len(os.listdir(path)) < 20 and time.monotonic() < deadline:  # a record per segment
        time.sleep(0.01)
    writer.proc.send_signal(signal.SIGKILL)
    writer.proc.wait()
    out = upy(OPEN % path + "n = box.pending\ni = 0\nintact = True\nwhile box.pending:\n"
              "    for r in box.peek(50):\n        intact = intact and r == b'%%08d' %% i + b'x' * 200\n"
              "        i += 1\n    box.ack(50)\n"
              "box.put(b'after')\nprint(n, intact, Outbox(%r).peek(5))" % path)
    count, intact, after = out.split()
    assert int(count) > 10 and intact == "True" and after == "[b'after']", out


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KB tmpfs (needs root); skipped where it cannot be mounted."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_filesystem_refuses_the_record_and_keeps_the_others(tiny_fs):
    path = str(tiny_fs / "box")
    out = upy(OPEN % path + "n = 0\ntry:\n    while True:\n        box.put(b'%04d' % n + b'x' * 996)\n"
              "        n += 1\nexcept OSError as e:\n    print(n, e.errno, box.pending)\n")
    stored, errno, pending = map(int, out.split())
    assert errno == 28 and stored == pending and stored > 20  # ENOSPC
    out = upy(OPEN % path + "n = box.pending\nr = box.peek(n)\n"
              "print(n, all(r[i][:4] == b'%%04d' %% i for i in range(n)))\n"
              "box.ack(n)\nprint(box.put(b'room again'), Outbox(%r).peek(5))" % path)
    assert out.split("\n")[:2] == ["%d True" % stored, "True [b'room again']"], out


REPORTER = """import asyncio
from kiln.mqtt import MQTTClient
from kiln.outbox import Outbox

async def main():
    box = Outbox(%(path)r)
    client = MQTTClient("reporter", "127.0.0.1", %(port)d, keepalive=2, clean=False)
    client.min_backoff = client.max_backoff = 1
    client.ack_timeout = 2
    asyncio.create_task(client.run())

    async def send(record):
        return await client.publish("kiln/readings", record, qos=1)

    for i in range(%(count)d):
        box.put(b"reading %%d" %% i)
        if client.connected:
            await box.drain(send)
        print("tick", i, box.pending, client.connected)
        await asyncio.sleep(1)
    while box.pending:
        if client.connected:
            await box.drain(send)
        await asyncio.sleep(0.2)
    print("done", client.connections)
    await client.disconnect()

asyncio.run(main())
"""


@pytest.mark.persistent_broker
def test_a_broker_outage_loses_no_reading(tmp_path, own_broker, upy_script):
    # The issue asks for a 30 s outage; 10 s keeps `make test` short and covers the same path
    # (the client reconnects with a 1 s back-off and the outbox drains what waited);
    # KILN_MQTT_OUTAGE=30 runs the long one. The collector's session is persistent and so is
    # the broker's store: what the reporter sends after the restart waits for the collector
    # even before it is back.
    outage = int(os.environ.get("KILN_MQTT_OUTAGE", "10"))
    count = outage + 10
    collected = tmp_path / "collected.txt"
    with open(collected, "w") as out:
        sub = own_broker.sub("kiln/readings", count * 2, timeout=120, client_id="collector",
                             clean=False, out=out)
    reporter = upy_script("reporter", REPORTER % {"path": str(tmp_path / "box"),
                                                   "port": own_broker.port, "count": count})
    reporter.wait_for("tick 3 ")
    own_broker.stop()
    time.sleep(outage)
    offline = [line for line in reporter.output().splitlines() if line.endswith(" False")]
    own_broker.start()
    out = reporter.finish(timeout=count + 30)
    assert len(offline) >= outage - 2, out  # readings went on while the broker was away
    assert "done" in out, out
    expected = ["kiln/readings reading %d" % i for i in range(count)]
    deadline = time.monotonic() + 15
    while not set(expected) <= set(collected.read_text().splitlines()) and time.monotonic() < deadline:
        time.sleep(0.2)
    sub.terminate()
    sub.wait(10)
    received = collected.read_text().splitlines()
    assert sorted(set(received)) == sorted(expected), out
    # QoS 1 allows a reading twice only if its PUBACK was lost with the broker
    assert len(received) - count <= 2, received


def test_the_fallback_crc32_is_the_standard_one():
    # Ports without binascii.crc32 (the ESP8266) use kiln.outbox's own; run it here on CPython.
    import ast
    import zlib

    from conftest import ROOT

    tree = ast.parse((ROOT / "modules" / "kiln" / "outbox.py").read_text())
    fallback = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "crc32")
    scope = {}
    exec(compile(ast.Module(body=[fallback], type_ignores=[]), "outbox.py", "exec"), scope)
    for data in (b"", b"a", b"reading 17", bytes(range(256))):
        assert scope["crc32"](data) == zlib.crc32(data)
        assert scope["crc32"](data, 12345) == zlib.crc32(data, 12345)
