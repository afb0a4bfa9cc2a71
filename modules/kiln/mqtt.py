"""An MQTT 3.1.1 client for asyncio: QoS 0 and 1, retained messages, a last will, keep-alive,
clean and persistent sessions, reconnection with back-off, over TCP or TLS.

```python
client = MQTTClient("sensor-1", "192.168.1.10", keepalive=30, clean=False)
await client.subscribe("sensors/cmd", qos=1)
asyncio.create_task(client.run())          # connects, and reconnects whenever the link drops
await client.publish("sensors/1/t", b"21.5", qos=1)
async for topic, payload, retained in client.messages():
    ...
```
"""

import asyncio
from asyncio import core
from random import getrandbits
from time import ticks_diff, ticks_ms

from micropython import const

try:
    import tls

    # axtls (the ESP8266's) cannot handshake in parts under asyncio; Mbed TLS can
    _AXTLS = not hasattr(tls, "MBEDTLS_VERSION")
except ImportError:  # a port without TLS
    _AXTLS = False

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_UNSUBSCRIBE = const(0xA2)
_UNSUBACK = const(0xB0)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)
_DUP = const(0x08)
_ETIMEDOUT = const(110)
_ENOTCONN = const(107)
_CHUNK = const(512)


class MQTTError(Exception):
    """The broker refused the connection (args[0]: the CONNACK return code, 1 to 5) or a
    subscription, or broke the protocol."""


def _field(data):
    if isinstance(data, str):
        data = data.encode()
    return len(data).to_bytes(2, "big") + data


def _packet(first, body):
    n = len(body)
    if n > 268435455:
        raise ValueError("packet too large")
    head = bytearray((first,))
    while n > 0x7F:
        head.append(n & 0x7F | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head) + body


def _pid_of(body):
    if len(body) != 2:
        raise MQTTError("bad acknowledgement")
    return int.from_bytes(body, "big")


class MQTTClient:
    """One connection to a broker. `ssl` is an `ssl.SSLContext` (TLS). With Mbed TLS (esp32,
    unix) the handshake runs in parts without holding the event loop, and the broker's
    certificate is verified when the context asks for it (`verify_mode = ssl.CERT_REQUIRED`,
    `load_verify_locations(cadata=<CA in DER>)`); with the ESP8266's axtls the certificate is
    not verified and the handshake blocks the event loop for its duration, up to
    connect_timeout. `will` is
    `(topic, payload)` or `(topic, payload, qos, retain)`. `clean=False` keeps the session on
    the broker: subscriptions and QoS 1 messages sent while the client was away survive a
    reconnection. `callback(topic, payload, retained)`, a function or a coroutine, receives the
    messages instead of `messages()`."""

    connect_timeout = 10  # s: TCP, TLS handshake and CONNACK
    ack_timeout = 10  # s: the broker's PUBACK, SUBACK or UNSUBACK
    max_packet = 16 * 1024  # a larger packet from the broker breaks the connection
    max_queue = 8  # received messages waiting for messages(); QoS 0 ones beyond are dropped
    min_backoff = 1  # s: first wait before reconnecting, doubled after each failure
    max_backoff = 60  # s

    def __init__(self, client_id, host, port=None, user=None, password=None, keepalive=60,
                 ssl=None, clean=True, will=None, callback=None):
        self.client_id = client_id
        self.host = host
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.clean = clean
        self.will = will
        self.callback = callback
        self.connected = False
        self.connections = 0  # successful connections so far
        self.dropped = 0  # QoS 0 messages dropped because messages() did not keep up
        self.last_error = None  # why the last connection attempt failed or the link dropped
        self._subs = {}  # topic filter -> QoS, restored on each connection
        self._unacked = {}  # packet id -> (first byte, body) of a QoS 1 publish awaiting PUBACK
        self._waiters = {}  # packet id -> [Event, acknowledgement body]
        self._queue = []
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._down = asyncio.Event()
        self._lock = None
        self._stream = None
        self._raw = None  # the socket under a TLS stream: what reads wait on
        self._tasks = ()
        self._pid = 0
        self._stop = False

    # --- the connection ---

    async def connect(self):
        """Connect and open the session; raises OSError or MQTTError. Subscriptions the broker
        did not keep are made again, and QoS 1 publishes still awaited are sent again (DUP)."""
        if self.connected:
            return
        try:
            present = await asyncio.wait_for(self._open(), self.connect_timeout)
        except asyncio.TimeoutError:
            self._close()
            raise OSError(_ETIMEDOUT) from None
        except BaseException:
            self._close()
            raise
        self.connected = True
        self.connections += 1
        self._down.clear()
        self._pinging = False
        self._last_in = self._last_out = ticks_ms()
        self._tasks = (asyncio.create_task(self._read_loop()), asyncio.create_task(self._keep_alive()))
        try:
            if not present:
                for topic, qos in list(self._subs.items()):
                    await self._subscribe(topic, qos)
            for first, body in list(self._unacked.values()):
                await self._send(first | _DUP, body)
        except BaseException:
            self._lost()
            raise

    async def _open(self):
        self._rbuf = b""
        self._lock = asyncio.Lock()
        self._raw = None
        if not self.ssl:
            self._stream, _ = await asyncio.open_connection(self.host, self.port)
        elif _AXTLS:
            self._stream = asyncio.StreamReader(self._tls_socket())
        else:
            # kiln.client's connect keeps the socket under the TLS stream: reads wait on it (on
            # unix select finds no file descriptor in a TLS stream and polls it every millisecond)
            from kiln.client import _connect

            self._stream, self._raw = await _connect(self.host, self.port, self.ssl, None)
        flags = self.clean << 1
        payload = _field(self.client_id)
        if self.will:
            topic, message = self.will[0], self.will[1]
            qos = self.will[2] if len(self.will) > 2 else 0
            retain = self.will[3] if len(self.will) > 3 else False
            flags |= 0x04 | qos << 3 | retain << 5
            payload += _field(topic) + _field(message)
        if self.user is not None:
            flags |= 0x80
            payload += _field(self.user)
            if self.password is not None:
                flags |= 0x40
                payload += _field(self.password)
        await self._send(_CONNECT, b"\x00\x04MQTT\x04" + bytes((flags,))
                         + self.keepalive.to_bytes(2, "big") + payload)
        first, body = await self._read_packet()
        if first != _CONNACK or len(body) != 2 or body[0] & 0xFE:
            raise MQTTError("bad CONNACK")
        if body[1]:
            raise MQTTError(body[1])
        return body[0] and not self.clean

    def _tls_socket(self):
        # axtls: a blocking handshake (bounded by connect_timeout): writing before axtls
        # finishes a handshake begun in parts sends data the server rejects, and axtls tells no
        # one when it has finished. Mbed TLS handshakes in parts within the stream's reads and
        # writes.
        import socket

        sock = socket.socket()
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect(socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)[0][-1])
            sock = self.ssl.wrap_socket(sock, server_hostname=self.host)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def run(self):
        """Keep the connection up until disconnect(): connect, and after each failed attempt or
        drop wait before connecting again: min_backoff seconds at first (half to all of it, at
        random), doubling up to max_backoff, back to min_backoff once a connection has lasted
        max_backoff seconds."""
        self._stop = False
        delay = self.min_backoff
        while not self._stop:
            try:
                await self.connect()
                began = ticks_ms()
                await self._down.wait()
                if ticks_diff(ticks_ms(), began) >= self.max_backoff * 1000:
                    delay = self.min_backoff
            except Exception as e:  # noqa: BLE001 - any failure to connect is retried
                self.last_error = e
            if self._stop:
                break
            await asyncio.sleep_ms(int(delay * (256 + getrandbits(8)) * 1000) // 512)
            delay = min(delay * 2, self.max_backoff)

    async def disconnect(self):
        """Say goodbye (the broker then drops the last will), close, and end run()."""
        self._stop = True
        if self.connected:
            try:
                await self._send(_DISCONNECT, b"")
            except OSError:
                pass
        self._lost()

    def _lost(self):
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._tasks = ()
        self.connected = False
        self._close()
        self._down.set()

    def _close(self):
        if self._stream:
            self._stream.s.close()
            self._stream = None
        if self._raw is not None:
            # a TLS stream whose handshake failed lets go of its socket without closing it
            self._raw.close()
            self._raw = None

    # --- packets ---

    async def _send(self, first, body):
        # One lock per connection: a task stuck writing to a dead socket cannot hold up the next
        # connection, and a task that waited for the old lock does not write to the new stream.
        stream, lock = self._stream, self._lock
        if not stream:
            raise OSError(_ENOTCONN)
        async with lock:
            if self._stream is not stream:
                raise OSError(_ENOTCONN)
            stream.write(_packet(first, body))
            await stream.drain()
            self._last_out = ticks_ms()

    async def _read(self, n):
        data = self._rbuf
        while len(data) < n:
            if self._raw is not None:
                # read first, wait on the socket only when the TLS stream has nothing decrypted
                chunk = self._stream.s.read(_CHUNK)
                if chunk is None:
                    yield core._io_queue.queue_read(self._raw)
                    continue
            else:
                chunk = await self._stream.read(_CHUNK)
            if not chunk:
                raise EOFError
            data += chunk
            # A TLS socket keeps decrypted bytes that polling its socket does not announce.
            while True:
                chunk = self._stream.s.read(_CHUNK)
                if not chunk:
                    break
                data += chunk
        self._rbuf = data[n:]
        return data[:n]

    async def _read_packet(self):
        first = (await self._read(1))[0]
        size = shift = 0
        while True:
            byte = (await self._read(1))[0]
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift == 28:
                raise MQTTError("remaining length over 4 bytes")
        if size > self.max_packet:
            raise MQTTError("packet too large")
        return first, (await self._read(size) if size else b"")

    async def _read_loop(self):
        try:
            while True:
                first, body = await self._read_packet()
                self._last_in = ticks_ms()
                await self._handle(first, body)
        except Exception as e:  # noqa: BLE001 - a dead or misbehaving broker: drop, run() reconnects
            self.last_error = e
        self._lost()

    async def _handle(self, first, body):
        if first >> 4 == 3:
            await self._deliver(first, body)
        elif first in (_PUBACK, _SUBACK, _UNSUBACK):
            pid = _pid_of(body[:2] if first == _SUBACK else body)
            if first == _PUBACK:
                self._unacked.pop(pid, None)
            waiter = self._waiters.get(pid)
            if waiter:
                waiter[1] = body
                waiter[0].set()
        elif first == _PINGRESP and not body:
            self._pinging = False
        else:
            raise MQTTError("unexpected packet 0x%02x" % first)

    async def _deliver(self, first, body):
        qos = first >> 1 & 3
        if qos > 1 or len(body) < 2:
            raise MQTTError("bad PUBLISH")
        end = 2 + int.from_bytes(body[:2], "big")
        if end + 2 * qos > len(body):
            raise MQTTError("bad PUBLISH")
        topic = body[2:end].decode()
        pid = body[end:end + 2 * qos]
        message = (topic, body[end + 2 * qos:], bool(first & 1))
        if self.callback:
            try:
                result = self.callback(*message)
                if hasattr(result, "send"):
                    await result
            except Exception as e:  # noqa: BLE001 - the app's error must not drop the link
                import sys

                sys.print_exception(e)
        elif qos or len(self._queue) < self.max_queue:
            while len(self._queue) >= self.max_queue:
                self._space.clear()
                await self._space.wait()
            self._queue.append(message)
            self._ready.set()
        else:
            self.dropped += 1
        if qos:
            if pid == b"\x00\x00":
                raise MQTTError("bad PUBLISH")
            await self._send(_PUBACK, pid)

    async def _keep_alive(self):
        period = self.keepalive * 1000
        if not period:
            return
        while True:
            await asyncio.sleep_ms(period // 4)
            now = ticks_ms()
            quiet = ticks_diff(now, self._last_in)
            if quiet > period * 3 // 2:
                self.last_error = OSError(_ETIMEDOUT)
                self._lost()
                return
            if not self._pinging and (quiet >= period or ticks_diff(now, self._last_out) >= period):
                self._pinging = True
                try:
                    await self._send(_PINGREQ, b"")
                except OSError as e:
                    self.last_error = e
                    self._lost()
                    return

    def _next_pid(self):
        while True:
            self._pid = self._pid % 65535 + 1
            if self._pid not in self._waiters and self._pid not in self._unacked:
                return self._pid

    async def _request(self, first, body, pid):
        waiter = self._waiters[pid] = [asyncio.Event(), None]
        try:
            await self._send(first, body)
            await asyncio.wait_for(waiter[0].wait(), self.ack_timeout)
        except asyncio.TimeoutError:
            raise OSError(_ETIMEDOUT) from None
        finally:
            del self._waiters[pid]
        return waiter[1]

    # --- the API ---

    async def publish(self, topic, payload, qos=0, retain=False):
        """Publish `payload` (bytes or str). Returns True once written (QoS 0) or acknowledged
        by the broker (QoS 1, within ack_timeout: a message whose connection drops meanwhile is
        sent again, DUP, on reconnection); False if not connected or not acknowledged in time,
        the message then being forgotten (the caller may publish it again: QoS 1 allows
        duplicates)."""
        if qos not in (0, 1):
            raise ValueError("qos 0 or 1")
        if isinstance(payload, str):
            payload = payload.encode()
        if not self.connected:
            return False
        first = _PUBLISH | qos << 1 | bool(retain)
        if not qos:
            try:
                await self._send(first, _field(topic) + payload)
                return True
            except OSError:
                return False
        pid = self._next_pid()
        body = _field(topic) + pid.to_bytes(2, "big") + payload
        self._unacked[pid] = (first, body)
        waiter = self._waiters[pid] = [asyncio.Event(), None]
        try:
            await asyncio.wait_for(self._publish_once(first, body, waiter[0]), self.ack_timeout)
            return True
        except (OSError, asyncio.TimeoutError):
            return False
        finally:
            self._unacked.pop(pid, None)
            del self._waiters[pid]

    async def _publish_once(self, first, body, acked):
        try:
            await self._send(first, body)
        except OSError:
            pass  # the connection dropped: connect() sends it again
        await acked.wait()

    async def subscribe(self, topic, qos=0):
        """Subscribe to a topic filter, now if connected and again on each connection; returns
        the QoS the broker granted (None when not connected yet). Raises MQTTError if the broker
        refuses it, OSError if it does not answer within ack_timeout."""
        if qos not in (0, 1):
            raise ValueError("qos 0 or 1")
        self._subs[topic] = qos
        if self.connected:
            return await self._subscribe(topic, qos)

    async def _subscribe(self, topic, qos):
        pid = self._next_pid()
        ack = await self._request(_SUBSCRIBE, pid.to_bytes(2, "big") + _field(topic) + bytes((qos,)), pid)
        if len(ack) != 3 or ack[2] > 1:
            raise MQTTError("subscription refused: " + topic)
        return ack[2]

    async def unsubscribe(self, topic):
        """Forget a subscription (on the broker too, if connected)."""
        self._subs.pop(topic, None)
        if self.connected:
            pid = self._next_pid()
            await self._request(_UNSUBSCRIBE, pid.to_bytes(2, "big") + _field(topic), pid)

    async def receive(self):
        """The next received message: (topic, payload, retained). QoS 1 messages are
        acknowledged once queued here."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        self._space.set()
        return self._queue.pop(0)

    def messages(self):
        """`async for topic, payload, retained in client.messages()`: receive() forever."""
        return self

    def __aiter__(self):
        return self

    async def __anext__(self):
        return await self.receive()
