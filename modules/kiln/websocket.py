# WebSocket (RFC 6455). `@with_websocket` turns `async def view(request, ws)` into a view that
# answers the opening handshake with 101; the C loop then hands the connection, still in its slot,
# to the WebSocket's serve(). Framing, unmasking and the UTF-8 check are C's (_kiln, kiln_ws.c):
# conn.ws_recv() gives the client's input piece by piece, conn.ws_send() frames and writes.
#
# The connection's task runs the view: receive() reads from C in that task, with no queue or
# task switch between the socket and the view. A task that sends while no task receives first
# takes what the client sent (answering pings, seeing a close; messages are kept for receive()),
# and one task pings every open WebSocket that is due. When the connection ends, the view is
# woken if it waits in receive(), send() or close() (ConnectionClosed, or close() returns), else
# cancelled.
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
    #: Messages read while no task was in ``receive()`` (a send reads what the client sent
    #: meanwhile, to answer its pings and see its close), kept for ``receive()``; when full,
    #: reading waits for ``receive()``.
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
        self._task = None  # the connection's task: it runs the view
        self._reader = None  # the task in receive()
        self._writer = None  # the task waiting for room to write
        self._parked = False  # the connection's task waits inside receive(), send(), close()
        self._close_sent = False
        self._queue = None
        self._parts = None  # pieces of a fragmented message
        self._busy = False  # a frame is being written (one at a time)
        self._free = None  # Event, made when a second sender waits
        self._done = None  # Event, made when close() waits for the end
        self._heard = 0
        self._pinged = 0  # when the last ping went

    async def receive(self):
        """The next message: a str (text) or bytes (binary). Raises ConnectionClosed once the
        connection is closed and every message received before has been taken."""
        q = self._queue
        if q:
            return q.pop(0)
        if self._reader is not None:
            raise RuntimeError("receive() in two tasks")
        self._reader = core.cur_task
        try:
            while True:
                if self.closed:
                    raise ConnectionClosed(self.close_code, self.close_reason)
                r = self._pump(False)
                if r is None:
                    # the common wait: the connection's task, on its socket
                    self._park(True)
                    yield core._io_queue.queue_read(self._c.raw)
                    self._park(False)
                    continue
                t = type(r)
                if t is str or t is bytes:
                    return r
                await self._handle(r)
        finally:
            self._reader = None
            self._park(False)

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
        payload = _control(bytes((code >> 8, code & 255)) + reason.encode())
        if self._c is None:
            return
        if not self._close_sent:
            try:
                await self._send(_CLOSE, payload)
            except ConnectionClosed:
                return
            self._close_sent = True
        if self.closed:
            return
        ms = int(self.close_timeout * 1000)
        self._park(True)
        try:
            if self._reader is None:
                # read (dropping messages) until the peer's close frame comes
                await asyncio.wait_for_ms(self._until_closed(), ms)
            else:
                # the task in receive() reads it
                self._done = asyncio.Event()
                await asyncio.wait_for_ms(self._done.wait(), ms)
        except asyncio.TimeoutError:
            if self._c is not None and core.cur_task is not self._task:
                self._task.cancel()
        finally:
            self._park(False)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def _until_closed(self):
        try:
            while True:
                await self.receive()
        except ConnectionClosed:
            pass

    async def _send(self, op, data):
        if self._close_sent or self._c is None:
            raise ConnectionClosed(self.close_code or _GONE, self.close_reason)
        if self._reader is None:
            # Nobody reads: take what the client sent meanwhile (its pings are answered, its
            # close is seen), messages kept for receive().
            while True:
                q = self._queue
                if q is not None and len(q) >= self.max_queue:
                    break
                r = self._pump(True)
                if r is None:
                    break
                t = type(r)
                if t is str or t is bytes:
                    if q is None:
                        q = self._queue = []
                    q.append(r)
                elif await self._handle(r):
                    raise ConnectionClosed(self.close_code, self.close_reason)
        self._park(True)
        try:
            while self._busy:
                # another task's frame is on its way out
                if self._free is None:
                    self._free = asyncio.Event()
                self._free.clear()
                await self._free.wait()
            c = self._c
            if c is None:
                raise ConnectionClosed(self.close_code or _GONE, self.close_reason)
            self._busy = True
            try:
                r = c.ws_send(op, data)
                while r is False:
                    self._writer = core.cur_task
                    try:
                        yield core._io_queue.queue_write(c.raw)
                    except asyncio.CancelledError:
                        # part of the frame is out and the rest never will be: the stream of
                        # frames is broken, so the connection ends
                        if self._c is not None and self._task is not core.cur_task:
                            self._task.cancel()
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

    def _pump(self, drain):
        # The client's next message without waiting (str or bytes), a control frame (a tuple)
        # or the end of its input (a close code) for _handle, or None when nothing is there.
        c = self._c
        if c is None:
            return _GONE
        parts = self._parts
        while True:
            r = c.ws_recv(self.max_message, drain)
            if r is None or type(r) is int:
                return r
            self._heard = time.ticks_ms()
            op, data, end = r
            if op >= _CLOSE:
                return r
            if parts is None:
                if end:
                    return data
                parts = self._parts = [data]
            else:
                parts.append(data)
                if end:
                    self._parts = None
                    msg = b"".join(parts)
                    return msg.decode() if op == _TEXT else msg

    async def _handle(self, r):
        # A control frame, or the end of the input; True once the connection is closed.
        if type(r) is int:
            # 1002, 1007, 1009: the connection failed (or 1006: the peer is gone)
            if r != _GONE and not self._close_sent:
                await self._close_quietly(r)
            self._ended(r, "")
            return True
        op, data, _ = r
        if op == _PING:
            try:
                await self._send(_PONG, data)
            except ConnectionClosed:
                pass
        elif op == _CLOSE:
            code = (data[0] << 8 | data[1]) if data else _NO_CODE
            if not self._close_sent:
                await self._close_quietly(code if data else None)
            self._ended(code, bytes(data[2:]).decode())
            return True
        return False

    async def _close_quietly(self, code):
        try:
            await self._send(_CLOSE, b"" if code is None else bytes((code >> 8, code & 255)))
        except ConnectionClosed:
            return
        self._close_sent = True

    def _park(self, parked):
        if core.cur_task is self._task:
            self._parked = parked

    def _ended(self, code, reason):
        if not self.closed:
            self.closed = True
            self.close_code = code
            self.close_reason = reason
        if self._done is not None:
            self._done.set()
        t = self._task
        if t is not None and t is not core.cur_task and self._c is not None:
            # Another task saw the end: the connection's task, which runs the view, ends too.
            # Waiting in receive(), send() or close() it is woken to find the connection
            # closed; waiting on anything else, it is cancelled.
            if self._parked:
                _wake(self._reader)
                _wake(self._writer)
            else:
                t.cancel()

    async def serve(self, conn):
        # The connection's task, after the 101: runs the view, closes, and ends the connection.
        self._c = conn
        self._task = core.cur_task
        self._heard = time.ticks_ms()
        if self.ping_interval:
            self._pinged = self._heard
            _watch(self)
        view, args, kwargs = self._view
        try:
            code = 1000
            try:
                await view(self.request, self, *args, **kwargs)
            except ConnectionClosed:
                code = None
            except Exception as e:  # noqa: BLE001 - the view failed: log it, close with 1011
                print("Kiln: the WebSocket view of %s failed" % self.request.path)
                sys.print_exception(e)
                code = 1011
            if code is not None and not self.closed:
                await self.close(code)
        finally:
            self._ended(_GONE, "")
            self._c = None
            # other tasks waiting on the socket wake to find the connection gone
            _wake(self._reader)
            _wake(self._writer)
            if self._free is not None:
                self._free.set()

    async def _ping(self):
        # A ping from the watcher's round; a peer that answered nothing for ping_interval +
        # ping_timeout seconds is taken as dead. (The ping's send takes what came meanwhile
        # when no task reads: the pong to the last ping counts.)
        try:
            await self.ping()
        except ConnectionClosed:
            return
        limit = int((self.ping_interval + self.ping_timeout) * 1000)
        if self._c is not None and time.ticks_diff(time.ticks_ms(), self._heard) >= limit:
            print("Kiln: a WebSocket peer answered no ping, closing it")
            self._task.cancel()


# Open WebSockets that ping, and the one task that pings them all: a WebSocket keeps no task of
# its own (heap on a board), only the ping it has due.
_watched = []
_watcher = [None, None]  # the task, and the event loop's run queue it was made on


def _watch(ws):
    _watched.append(ws)
    t = _watcher[0]
    if t is None or t.done() or _watcher[1] is not core._task_queue:
        # none yet, or one of an event loop that has ended (app.run again at the REPL)
        _watcher[0] = asyncio.create_task(_ping_due())
        _watcher[1] = core._task_queue


async def _ping_due():
    while _watched:
        step = 1000
        for ws in _watched:
            step = min(step, int(ws.ping_interval * 1000))
        await asyncio.sleep_ms(step)
        now = time.ticks_ms()
        i = 0
        while i < len(_watched):
            ws = _watched[i]
            if ws._c is None:
                _watched.pop(i)
                continue
            i += 1
            if time.ticks_diff(now, ws._pinged) >= int(ws.ping_interval * 1000) and not ws._busy:
                # a frame on its way out says the connection is used: no ping needed then
                ws._pinged = now
                asyncio.create_task(ws._ping())


def _wake(task):
    # A task waiting on a socket runs again (to find the connection's state changed).
    if task is not None and task.data is core._io_queue:
        core._io_queue.remove(task)
        core._task_queue.push(task)


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
