#!/usr/bin/env python3
"""MQTT publishes per second from the unix firmware (kiln.mqtt) to a local Mosquitto; prints a
Markdown section for bench/RESULTS.md (bench/run.py).

    .venv/bin/python bench/mqtt.py

One client publishes N messages of 16 bytes in a row, over TCP and over TLS (Mbed TLS; the
handshake is outside the timing):
QoS 0 until a subscriber (mosquitto_sub) has them all, QoS 1 each awaited until its PUBACK
(one in flight at a time, the way kiln.outbox.drain sends). Median of ROUNDS runs.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("KILN_FIRMWARE", str(ROOT / "firmware" / "UNIX" / "kiln"))
import mqtt_broker  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
N = {0: 5000, 1: 2000}

SCRIPT = """import asyncio, ssl, sys, time
from kiln.mqtt import MQTTClient
port, qos, n, tls = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "tls"
ctx = None
if tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_NONE

async def main():
    c = MQTTClient("bench", "127.0.0.1", port, ssl=ctx)
    await c.connect()
    t = time.ticks_us()
    for i in range(n):
        assert await c.publish("bench/m", b"reading %08d" % i, qos=qos)
    print(time.ticks_diff(time.ticks_us(), t))
    await c.disconnect()

asyncio.run(main())
"""


def one_run(broker, folder, qos, tls):
    n = N[qos]
    sub = broker.sub("bench/m", n, timeout=120, qos=qos)
    started = time.monotonic()
    out = subprocess.run([mqtt_broker.FIRMWARE, str(folder / "bench.py"), str(broker.tls_port if tls else broker.port),
                          str(qos), str(n), "tls" if tls else "tcp"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    client_us = int(out.stdout.split()[-1])
    received = sub.communicate(timeout=120)[0].splitlines()
    delivered = time.monotonic() - started
    assert len(received) == n, (len(received), n)
    # QoS 0: until the subscriber has them all (the client only fills its socket buffer);
    # QoS 1: the client's own time, every message acknowledged.
    return n / delivered if qos == 0 else n / (client_us / 1e6)


def main():
    with tempfile.TemporaryDirectory(prefix="kiln-bench-mqtt-") as tmp:
        folder = Path(tmp)
        (folder / "bench.py").write_text(SCRIPT)
        broker = mqtt_broker.Broker(folder / "broker", mqtt_broker.make_certs(folder))
        try:
            rows = []
            for tls in (False, True):
                for qos in (0, 1):
                    rates = [one_run(broker, folder, qos, tls) for _ in range(ROUNDS)]
                    rows.append("| %s | %d | %d | %s |" % ("TLS (Mbed TLS)" if tls else "TCP", qos, N[qos],
                                                           format(int(statistics.median(rates)), ",")))
        finally:
            broker.stop()
    print("## MQTT publishes (kiln.mqtt to a local Mosquitto)\n")
    print("One unix-firmware client, 16-byte payloads. QoS 0: until a subscriber received all N "
          "(its process start included); QoS 1: one publish at a time, each until its PUBACK. "
          "Median of %d runs (`bench/mqtt.py`).\n" % ROUNDS)
    print("| transport | QoS | messages | publishes/s |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print("\nOver TLS kiln.mqtt waits on the socket under its TLS stream: MicroPython 1.25's Mbed TLS "
          "stream gives select no file descriptor, and asyncio waiting on it polls every "
          "millisecond on unix (788 and 168 publishes/s before).")


if __name__ == "__main__":
    main()
