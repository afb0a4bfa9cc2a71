# WebSocket (RFC 6455). `@with_websocket` turns `async def view(request, ws)` into a view that
# answers the opening handshake with 101; the C loop then hands the connection, still in its slot,
# to the WebSocket's serve(). Framing, unmasking and the UTF-8 check are C's (_kiln, kiln_ws.c):
# conn.ws_recv() gives the client's input piece by piece, conn.ws_send() frames and writes.
#
# The connection's own task reads (so pings are answered and a close is seen even while the view
# only sends); the view runs as a second task. When the connection ends, a view waiting in
# receive(), send() or close() is woken (ConnectionClosed, or close() returns); a view waiting on
# anything else is cancelled.
import asyncio
import binascii
import sys
import time
from asyncio import core

from kiln.response import Response, abort

try:
    from hashlib import sha1
except ImportError:  # a port built without it (stock unix without ssl): the pure-Python one
    from _kiln_ws import sha1
from kiln.routing import Wrapped

_TEXT = 1
_BINARY = 2
_CLOSE = 8
_PING = 9
_PONG = 10
# What ws_recv returns for a peer that left without a close frame; 1005: a close frame
# without a code (RFC 6455 7.1.5).
_GONE = 1006
_NO_CODE = 1005
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketError(Exception):
    """A WebSocket could not be used."""


class ConnectionClosed(WebSocketError):
    """The WebSocket is closed: ``code`` and ``reason`` are those of the close (1006 when the
    peer left without one)."""

    def __init__(self, code, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def accept_key(key):
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key."""
    return binascii.b2a_base64(sha1(key.encode() + _GUID).digest())[:-1].decode()


def _control(payload):
    # RFC 6455 5.5: a control frame's payload is 125 bytes at most
    if len(payload) > 125:
        raise ValueError("control frame payload over 125 bytes")
    return payload


def _tokens(value):
    return [t.strip() for t in value.split(",")] if value else []


class WebSocket:
    """The WebSocket a ``@with_websocket`` view gets."""

    #: Largest message accepted, in bytes (all its fragments): a bigger one closes the
    #: connection with 1009 before its payload is held.
    max_message = 16384
    #: Messages received and not yet taken by ``receive()``; when full, reading pauses.
    max_queue = 4
    #: Seconds between server pings (None: no pings); a peer that sends nothing for
    #: ping_interval + ping_timeout seconds is taken as dead and the connection closed. On by
    #: default: a board's client that lost power sends no FIN, and a WebSocket has no other
    #: timeout to give its slot back.
    ping_interval = 20
    ping_timeout = 20
    #: Seconds to wait for the peer's close frame after ours.
    close_timeout = 5

    def __init__(self, request, view, args, kwargs, subprotocol):
        self.request = request
        #: The subprotocol chosen in the handshake, or None.
        self.subprotocol = subprotocol
        self.closed = False
        self.close_code = None
        self.close_reason = ""
        self._view = (view, args, kwargs)
        self._c = None
        self._close_sent = False
        self._queue = []
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        # a frame is being written (one at a time); _free, made when a second sender waits
        self._busy = False
        self._free = None
        self._tasks = [None, None]  # [the connection's task, the view's]
        self._writer = None
        self._done = None
        self._heard = 0
        # the view is waiting in receive(), send() or close(): when the connection ends it is
        # woken (ConnectionClosed, or close() returns) rather than cancelled, so that the code
        # after its `async for` runs
        self._view_parked = False

    async def receive(self):
        """The next message: a str (text) or bytes (binary). Raises ConnectionClosed once the
        connection is closed and every message received before has been taken."""
        while not self._queue:
            if self.closed:
                raise ConnectionClosed(self.close_code, self.close_reason)
            self._ready.clear()
            self._park(True)
            try:
                await self._ready.wait()
            finally:
                self._park(False)
        self._room.set()
        return self._queue.pop(0)

    async def send(self, data):
        """Send a message: str as text, bytes (or bytearray, memoryview) as binary."""
        await self._send(_TEXT if type(data) is str else _BINARY, data)

    async def ping(self, data=b""):
        """Send a ping (the peer answers with a pong, which ``receive`` does not return); data
        is 125 bytes at most."""
        await self._send(_PING, _control(data))

    async def close(self, code=1000, reason=""):
        """Start the closing handshake with ``code`` and ``reason`` (123 bytes of UTF-8 at
        most); return once the peer has answered or ``close_timeout`` has passed."""
        if not self._close_sent and self._c is not None:
            payload = _control(bytes((code >> 8, code & 255)) + reason.encode())
            try:
                await self._send(_CLOSE, payload)
            except ConnectionClosed:
                return
            self._close_sent = True
        if self._c is not None:
            # the connection's task sets it when the peer's close frame has come
            self._done = asyncio.Event()
            self._park(True)
            try:
                await asyncio.wait_for_ms(self._done.wait(), int(self.close_timeout * 1000))
            except asyncio.TimeoutError:
                if self._c is not None:
                    self._tasks[0].cancel()
            finally:
                self._park(False)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def _send(self, op, data):
        if self._close_sent or self._c is None:
            raise ConnectionClosed(self.close_code or _GONE, self.close_reason)
        self._park(True)
        try:
            while self._busy:
                # another task's frame is on its way out
                if self._free is None:
                    self._free = asyncio.Event()
                self._free.clear()
                await self._free.wait()
            self._busy = True
            try:
                c = self._c
                if c is None:
                    raise ConnectionClosed(self.close_code or _GONE, self.close_reason)
                r = c.ws_send(op, data)
                while r is False:
                    self._writer = core.cur_task
                    try:
                        yield core._io_queue.queue_write(c.raw)
                    except asyncio.CancelledError:
                        # part of the frame is out and the rest never will be: the stream of
                        # frames is broken, so the connection ends
                        t = self._tasks[0]
                        if t is not core.cur_task and self._c is not None:
                            t.cancel()
                        raise
                    finally:
                        self._writer = None
                    if self._c is None:
                        raise ConnectionClosed(self.close_code or _GONE, self.close_reason)
                    r = c.ws_flush()
                if r is None:
                    self._ended(_GONE, "")
                    raise ConnectionClosed(_GONE)
            finally:
                self._busy = False
                if self._free is not None:
                    self._free.set()
        finally:
            self._park(False)

    def _park(self, parked):
        if core.cur_task is self._tasks[1]:
            self._view_parked = parked

    def _ended(self, code, reason):
        if not self.closed:
            self.closed = True
            self.close_code = code
            self.close_reason = reason
        self._ready.set()
        self._room.set()

    async def serve(self, conn):
        # The connection's task: starts the view, then reads until the connection ends.
        self._c = conn
        self._tasks[0] = core.cur_task
        self._heard = time.ticks_ms()
        self._tasks[1] = asyncio.create_task(self._run_view())
        pinger = asyncio.create_task(self._pinger()) if self.ping_interval else None
        try:
            await self._read()
        finally:
            self._ended(_GONE, "")
            self._c = None
            if self._done is not None:
                self._done.set()
            w = self._writer
            if w is not None and w.data is core._io_queue:
                # a sender waiting for room on the socket: wake it to find the connection gone
                core._io_queue.remove(w)
                core._task_queue.push(w)
            view = self._tasks[1]
            if not (view.done() or self._view_parked):
                view.cancel()
            if pinger is not None and not pinger.done():
                pinger.cancel()

    async def _read(self):
        c = self._c
        s = c.raw
        parts = None
        while True:
            r = c.ws_recv(self.max_message)
            if r is None:
                yield core._io_queue.queue_read(s)
                continue
            if type(r) is int:
                # 1002, 1007, 1009: the connection failed (or 1006: the peer is gone)
                if r != _GONE and not self._close_sent:
                    await self._close_quietly(r)
                self._ended(r, "")
                return
            self._heard = time.ticks_ms()
            op, data, end = r
            if op >= _CLOSE:
                if op == _PING:
                    await self._pong(data)
                elif op == _CLOSE:
                    code = (data[0] << 8 | data[1]) if data else _NO_CODE
                    if not self._close_sent:
                        await self._close_quietly(code if data else None)
                    self._ended(code, bytes(data[2:]).decode())
                    return
                continue
            if parts is None:
                if end:
                    if len(self._queue) < self.max_queue:
                        # the common case, without a coroutine
                        self._queue.append(data)
                        self._ready.set()
                    else:
                        await self._put(data)
                    continue
                parts = [data]
                continue
            parts.append(data)
            if end:
                msg = b"".join(parts)
                parts = None
                await self._put(msg.decode() if op == _TEXT else msg)

    async def _put(self, msg):
        while len(self._queue) >= self.max_queue and not self.closed:
            self._room.clear()
            await self._room.wait()
        self._queue.append(msg)
        self._ready.set()

    async def _pong(self, data):
        try:
            await self._send(_PONG, data)
        except ConnectionClosed:
            pass

    async def _close_quietly(self, code):
        try:
            await self._send(_CLOSE, b"" if code is None else bytes((code >> 8, code & 255)))
        except ConnectionClosed:
            return
        self._close_sent = True

    async def _run_view(self):
        view, args, kwargs = self._view
        code = 1000
        try:
            await view(self.request, self, *args, **kwargs)
        except ConnectionClosed:
            return
        except Exception as e:  # noqa: BLE001 - the view failed: log it, close with 1011
            print("Kiln: the WebSocket view of %s failed" % self.request.path)
            sys.print_exception(e)
            code = 1011
        if not self.closed:
            await self.close(code)

    async def _pinger(self):
        limit = (self.ping_interval + self.ping_timeout) * 1000
        while self._c is not None:
            await asyncio.sleep(self.ping_interval)
            if time.ticks_diff(time.ticks_ms(), self._heard) >= limit:
                print("Kiln: a WebSocket peer answered no ping, closing it")
                self._tasks[0].cancel()
                return
            try:
                await self.ping()
            except ConnectionClosed:
                return


def _handshake(request, view, args, kwargs, options):
    upgrade = request.upgrade
    headers = request.headers
    version = headers.get("Sec-WebSocket-Version")
    if upgrade is None or "websocket" not in _tokens(upgrade.lower()) or version != "13":
        # RFC 6455 4.2.2: a request that is not a WebSocket handshake of version 13 learns
        # which one this endpoint speaks
        return Response("WebSocket (version 13) required", 426, {
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"})
    key = headers.get("Sec-WebSocket-Key", "")
    try:
        if len(binascii.a2b_base64(key)) != 16:
            raise ValueError
    except ValueError:
        abort(400, "bad Sec-WebSocket-Key")
    if request.method != "GET" or request.body:
        abort(400, "a WebSocket handshake is a GET without a body")
    origin = options.get("origin")
    if origin is not None and not origin(request):
        abort(403, "origin not allowed")
    out = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept_key(key)}
    chosen = None
    offered = _tokens(headers.get("Sec-WebSocket-Protocol"))
    for name in options.get("subprotocols", ()):
        if name in offered:
            chosen = out["Sec-WebSocket-Protocol"] = name
            break
    # Sec-WebSocket-Extensions (permessage-deflate) is never accepted: frames stay plain.
    ws = WebSocket(request, view, args, kwargs, chosen)
    for name in ("max_message", "max_queue", "ping_interval", "ping_timeout", "close_timeout"):
        if name in options:
            setattr(ws, name, options[name])
    return Response(ws, 101, out)


def with_websocket(f=None, **options):
    """Decorator: ``async def view(request, ws, ...)`` serves a WebSocket; the route answers
    the opening handshake. Options: ``max_message`` (bytes), ``max_queue``, ``ping_interval``
    and ``ping_timeout`` (seconds), ``close_timeout``, ``subprotocols`` (the server's in order
    of preference), ``origin`` (``origin(request)`` returns False to refuse with 403). Used
    bare (``@with_websocket``) or with options (``@with_websocket(max_message=4096)``)."""
    if f is None:
        return lambda f: with_websocket(f, **options)

    def view(request, *args, **kwargs):
        return _handshake(request, f, args, kwargs, options)

    return Wrapped(view, f, False)
