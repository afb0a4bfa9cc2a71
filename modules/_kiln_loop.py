# The pure-Python `_kiln`, part two (see _kiln.py): the socket loop (kiln_server.c, kiln_conn.c,
# kiln_response.c).
import json
import select

from _kiln_http import (
    _ALLOW_BARE_LF,
    _BODY_IN_MEMORY,
    _F_CHUNKED,
    _F_CONTENT_LENGTH,
    _F_EXPECT_CONTINUE,
    _F_KEEP_ALIVE,
    _INCOMPLETE,
    _MAX_BODY,
    _MAX_HEAD,
    _MAX_HEADER_LINE,
    _MAX_HEADERS,
    _MAX_REQUEST_LINE,
    _RECV_BUFFER,
    _SEND_BUFFER,
    _decode_chunked,
    _field_ok,
    _Limits,
    _parse_head,
    new_request,
    reason,
    request_class_of,
)

# kiln/server.py drives it as the C loop: Loop.wait is asyncio's wait (kiln_poll.c), a ready
# connection is served there (conn.run() reads, parses, calls the handler and writes as much as
# it can without waiting) and stays registered for what it waits for; what must run in Python
# goes to the slot's worker task (dispatch). The poll set holds the sockets themselves (a
# Python object has no stream ioctl here), found again through _owners. As in the C loop, each
# slot's Conn is made when the server starts and reused by the slot's clients. Differences from
# the C loop: chunked request bodies are always read into memory (up to max_body); only
# Content-Length bodies over body_in_memory stream through req.stream; receive and send buffers
# are allocated per read and per response, not per slot; a connection reads without a limit
# per turn.

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

try:
    from gc import mem_free as _mem_free
except ImportError:  # CPython: no cap from the heap
    _mem_free = None

try:
    import sys as _sys

    _print_exception = _sys.print_exception
except AttributeError:  # CPython
    import traceback as _traceback

    def _print_exception(exc):
        _traceback.print_exception(type(exc), exc, exc.__traceback__)


_RUN_CLOSE = 0
_RUN_READ = 1
_RUN_WRITE = 2
_RUN_AWAIT = 3
_RUN_ANEXT = 4
_RUN_UPGRADE = 5
# what kiln/server.py's worker reads (the C module's names)
RUN_WRITE = _RUN_WRITE
RUN_AWAIT = _RUN_AWAIT
RUN_UPGRADE = _RUN_UPGRADE
# ws_recv's answer when the peer is gone without a close frame
_WS_GONE = 1006

_PH_HEAD = 0
_PH_HANDLER = 2
_PH_SEND = 3
_PH_STREAM = 4
_PH_ASTREAM = 5
_PH_CLOSING = 6
_PH_UPGRADED = 8
_PH_CLOSED = 7

_T_NONE = 0
_T_IDLE = 1
_T_HEAD = 2
_T_BODY = 3
_T_SEND = 4
_T_DRAIN = 5

_FRAME_LENGTH = 0
_FRAME_CHUNKED = 1
_FRAME_CLOSE = 2
_FRAME_NONE = 3

# The slots take at most this share of the free heap (kiln_server.h KILN_SLOTS_HEAP_PERCENT);
# a slot counts its buffers and its Conn object (about 500 B serving a client, 64-bit unix).
_SLOTS_HEAP_PERCENT = 50
_CONN_BYTES = 512

_EAGAIN = (11, 35, 115)  # EAGAIN/EWOULDBLOCK (Linux, BSD), EINPROGRESS
_DRAIN_MS = 1000
_PRESSURE_PERCENT = 75  # this share of the slots busy: heads get _PRESSURE_HEAD_MS at most
_PRESSURE_HEAD_MS = 2000
_EVICT_IDLE_MS = 1000  # as kiln_server.h: a full server closes a keep-alive client idle this long
_BACKLOG_WAIT_MS = 1000  # a client waits in the backlog this long for a slot, then gets a 503
_PER_CLIENT_MIN_SLOTS = 16  # the cap's default is on (half the slots) from this many slots
_BLOCKED_LOG_MS = 1000  # a sync handler held the loop this long: a console line

# The answer to a MemoryError (kiln_conn.c's oom_500).
_OOM_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
            b"Connection: close\r\n\r\nInternal Server Error")
_TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_BUSY_503 = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
             b"Content-Length: 19\r\nConnection: close\r\n\r\nService Unavailable")


def _would_block(e):
    return e.args and e.args[0] in _EAGAIN


def _exc_text(exc):
    # As MicroPython prints an exception: "ValueError: boom", or "ValueError" without arguments.
    if not exc.args:
        return type(exc).__name__
    if len(exc.args) == 1:
        return "%s: %s" % (type(exc).__name__, exc.args[0])
    return "%s: %s" % (type(exc).__name__, exc.args)


def _peer(addr):
    # (host, port) for an address accept() returned: the unix port gives a raw sockaddr.
    if isinstance(addr, (bytes, bytearray)) and len(addr) >= 8 and (addr[0] | (addr[1] << 8)) == 2:
        return ("%d.%d.%d.%d" % (addr[4], addr[5], addr[6], addr[7]), (addr[2] << 8) | addr[3])
    return addr


def _peer_host(peer):
    return peer[0] if isinstance(peer, tuple) and peer else peer


# id(socket) -> the Server or Conn the poller serves it for
_owners = {}

_POLL_BATCH = 16
_ACCEPT_PAUSE_MS = 100


class Loop:
    """kiln_poll.c's Loop: wait(dt) is asyncio's IOQueue.wait_io_event(dt)."""

    def __init__(self, poller, waiting, tasks):
        self._poller = poller
        self._map = waiting
        self._tasks = tasks
        # what one poll found, taken out first (serving changes the poll set); kept, so that a
        # wait allocates nothing
        self._found = [None] * _POLL_BATCH
        self._events = [0] * _POLL_BATCH
        # connections found ready while tasks waited to run (kiln_poll.c's tasks_ran_since)
        self._deferred = []
        self._found_at = 0

    def wait(self, dt):
        deferred = self._deferred
        if deferred:
            if dt == 0:
                t = self._tasks.peek()
                if t and ticks_diff(t.ph_key, self._found_at) <= 0:
                    return
            while deferred:
                deferred.pop(0)._ready()
            return
        found = self._found
        events = self._events
        n = 0
        for s, ev in self._poller.ipoll(dt):
            found[n] = s
            events[n] = ev
            n += 1
            if n == _POLL_BATCH:
                break
        for i in range(n):
            s = found[i]
            found[i] = None
            owner = _owners.get(id(s))
            if owner is None:
                self._wake(s, events[i])
            elif dt == 0:
                deferred.append(owner)
            else:
                owner._ready()
        if deferred:
            self._found_at = ticks_ms()

    def _wake(self, s, ev):
        # asyncio's own wait_io_event, for one stream
        sm = self._map.get(id(s))
        if sm is None:
            return
        if ev & ~select.POLLOUT and sm[0] is not None:
            self._tasks.push(sm[0])
            sm[0] = None
        if ev & ~select.POLLIN and sm[1] is not None:
            self._tasks.push(sm[1])
            sm[1] = None
        if sm[0] is None and sm[1] is None:
            del self._map[id(s)]
            self._poller.unregister(s)
        else:
            self._poller.modify(s, select.POLLOUT if sm[0] is None else select.POLLIN)


def _poll(poller, owner, sock, events):
    # kiln_poll(): registers sock for events, or changes them; False when out of memory
    if owner._polled == events:
        return True
    try:
        if owner._polled:
            poller.modify(sock, events)
        else:
            _owners[id(sock)] = owner
            poller.register(sock, events)
    except MemoryError:
        _owners.pop(id(sock), None)
        return False
    owner._polled = events
    return True


def _unpoll(poller, owner, sock):
    if owner._polled:
        owner._polled = 0
        _owners.pop(id(sock), None)
        try:
            poller.unregister(sock)
        except (KeyError, OSError):
            pass


class Server:
    """The socket loop over a listening socket; kiln/server.py drives it under asyncio."""

    def __init__(
        self, sock, handler, *, max_connections=8, head_timeout=10000, body_timeout=30000,
        idle_timeout=15000, send_timeout=30000, max_body=_MAX_BODY, max_head=_MAX_HEAD,
        recv_buffer=_RECV_BUFFER, send_buffer=_SEND_BUFFER, access_log=False, debug=False,
        body_in_memory=_BODY_IN_MEMORY, body_stream=None, lenient_lf=False, max_per_client=-1,
        wrap=None, request_class=None,
    ):
        if max_connections < 1 or max_connections > 65535 or recv_buffer < 16 or send_buffer < 16:
            raise ValueError("bad server configuration")
        self.sock = sock
        self.handler = handler
        self.max_connections = max_connections
        self._timeouts = (0, idle_timeout, head_timeout, body_timeout, send_timeout, _DRAIN_MS)
        self._lim = _Limits(_MAX_REQUEST_LINE, _MAX_HEADER_LINE, min(max_head, 65535), max_body,
                            _ALLOW_BARE_LF if lenient_lf else 0)
        self.recv_buffer = recv_buffer
        self.send_buffer = send_buffer
        self.access_log = access_log
        self.debug = debug
        self.body_in_memory = body_in_memory
        self.body_stream = body_stream
        self.wrap = wrap
        self.request_class = request_class_of(request_class)
        self.connections = 0
        self.closed = False
        self._refusing = False
        self._accept_failing = False
        self._capping = False
        self._pressed = False
        self._pressed_at = 0
        self._poller = None
        self._dispatch = None
        self._polled = 0
        self._paused = False
        self._paused_at = 0
        self._waiting = False  # clients wait in the listen backlog for a slot
        self._waiting_since = 0
        self._refused = 0
        self._reserve_slots()
        n = self.max_connections  # the slots reserved
        if max_per_client < 0:
            max_per_client = max(n // 2, 1) if n >= _PER_CLIENT_MIN_SLOTS else 0
        self.max_per_client = min(max_per_client, n)
        sock.setblocking(False)

    def _reserve_slots(self):
        # As kiln_server.c: a Conn per slot, made now and reused by each client of the slot, as
        # many as fit in _SLOTS_HEAP_PERCENT of the free heap but two at least, or as many as
        # the heap holds (one at least, or MemoryError). The fallback's buffers are allocated
        # per read rather than per slot; they count here as in the C loop.
        n = self.max_connections
        if _mem_free is not None:
            per_slot = self.recv_buffer + self.send_buffer + _CONN_BYTES
            n = min(n, max(_mem_free() // 100 * _SLOTS_HEAP_PERCENT // per_slot, 2))
        slots = self._slots = []
        for i in range(n):
            try:
                slots.append(Conn(self, i))
            except MemoryError:
                if i == 0:
                    raise
                n = i
                break
        if n < self.max_connections:
            print("Kiln: heap for %d of %d connections" % (n, self.max_connections))
            self.max_connections = n

    def accept(self):
        # As kiln_server.c's: the next client as a Conn; None when none waits; 0 when clients
        # wait in the listen backlog for a slot; False after an error (the caller pauses).
        refusals_left = 4
        while True:
            if self.closed:
                return None
            refuse = False
            # a slot that freed by itself ends the wait; one made by closing an idle connection
            # does not
            freed = self.connections < self.max_connections
            if not freed:
                if not _readable(self.sock):
                    self._waiting = False
                    return None
                if not self._evict_idle():
                    refuse = self._refuse_now() and refusals_left > 0
                    refusals_left -= 1
                    if not refuse:
                        return 0
            try:
                res = self.sock.accept()
            except OSError as e:
                if _would_block(e):
                    self._waiting = False
                    return None
                if e.args and e.args[0] == 103:  # ECONNABORTED
                    continue
                if not self._accept_failing:
                    self._accept_failing = True
                    print("Kiln: accept failed: " + _exc_text(e))
                return False
            self._accept_failing = False
            sock = res[0]
            if refuse:
                # it has waited: its request has arrived, and _answer_busy reads it first
                self._refused += 1
                _answer_busy(sock, self.wrap)
                if not self._refusing:
                    self._refusing = True
                    print("Kiln: 503 connection limit (%d) reached, refusing clients" % self.max_connections)
                continue
            peer = _peer(res[1]) if len(res) > 1 else None
            if self._over_cap(peer):
                _answer_busy(sock, self.wrap)
                if not self._capping:
                    self._capping = True
                    print("Kiln: 503 per-client limit (%d) reached by %s" % (self.max_per_client, _peer_host(peer)))
                continue
            c = None
            for c in self._slots:
                if not c._in_use:
                    break
            try:
                raw = sock
                if self.wrap is not None:
                    sock = self.wrap(sock)
                c._open(sock, peer)
                c.raw = raw
            except Exception as e:  # noqa: BLE001 - as the C loop: 503, then the caller pauses
                _answer_busy(sock, self.wrap)
                if not self._accept_failing:
                    self._accept_failing = True
                    print("Kiln: 503 for a new client: " + _exc_text(e))
                return False
            c._in_use = True
            self.connections += 1
            if freed:
                self._waiting = False
            return c

    def _refuse_now(self):
        # kiln_server.c's refuse_now: with every slot busy, whether the waiting client has waited
        # long enough to be taken only to be answered 503; at most 4 × max_connections of them,
        # then a new wait
        now = ticks_ms()
        if not self._waiting:
            self._waiting = True
            self._waiting_since = now
            self._refused = 0
        if self._refused >= 4 * self.max_connections:
            self._waiting_since = now
            self._refused = 0
        return ticks_diff(now, self._waiting_since) >= _BACKLOG_WAIT_MS

    def attach(self, poller, dispatch):
        self._poller = poller
        self._dispatch = dispatch
        if not _poll(poller, self, self.sock, select.POLLIN):
            raise MemoryError

    def _ready(self):
        # kiln_server_ready: one client; the next one waiting is found by the next poll
        c = self.accept()
        if c is False or c == 0:
            _unpoll(self._poller, self, self.sock)
            self._paused = True
            self._paused_at = ticks_ms()
        elif c is not None:
            c._start()

    def _under_pressure(self):
        return self.connections * 100 >= self.max_connections * _PRESSURE_PERCENT

    def _over_cap(self, peer):
        if not self.max_per_client or not self._under_pressure():
            return False
        host = _peer_host(peer)
        held = sum(1 for c in self._slots if c._in_use and not c._served and _peer_host(c.peer) == host)
        return held >= self.max_per_client

    def _evict_idle(self):
        now = ticks_ms()
        oldest = None
        age = 0
        for c in self._slots:
            if not c._in_use:
                continue
            a = ticks_diff(now, c._tstart)
            if c._timer == _T_IDLE and c._served and a >= _EVICT_IDLE_MS and (oldest is None or a > age) \
                    and not _readable(c.sock):
                oldest = c
                age = a
        if oldest is None:
            return False
        oldest._timer = _T_NONE
        oldest._timeout()
        return True

    def _release(self, c):
        if c._in_use:
            c._in_use = False
            self.connections -= 1
            self._refusing = False
            self._capping = False
            if self._paused and not self.closed:
                # a client waiting in the backlog gets the slot
                self._paused = False
                if not _poll(self._poller, self, self.sock, select.POLLIN):
                    self._paused = True
                    self._paused_at = ticks_ms()

    def sweep(self):
        now = ticks_ms()
        nxt = 1000
        if self._paused:
            if ticks_diff(now, self._paused_at) >= _ACCEPT_PAUSE_MS:
                self._paused = False
                if not self.closed and not _poll(self._poller, self, self.sock, select.POLLIN):
                    self._paused = True
                    self._paused_at = now
            nxt = _ACCEPT_PAUSE_MS
        if self._under_pressure():
            self._pressed = True
            self._pressed_at = now
        elif self._pressed and ticks_diff(now, self._pressed_at) >= _PRESSURE_HEAD_MS:
            self._pressed = False
        for c in self._slots:
            if not c._in_use:
                continue
            limit = self._timeouts[c._timer]
            if self._pressed and (c._timer == _T_HEAD or (c._timer == _T_IDLE and not c._served)):
                limit = min(limit, self._timeouts[_T_HEAD], _PRESSURE_HEAD_MS)
            if not limit:
                continue
            elapsed = ticks_diff(now, c._tstart)
            if elapsed >= limit and c._timer in (_T_IDLE, _T_HEAD) and _readable(c.sock):
                # Bytes wait unread: the loop was held (a slow sync handler), not the client.
                nxt = 20
            elif elapsed >= limit:
                c._timeout()
            elif limit - elapsed < nxt:
                nxt = limit - elapsed
        return nxt if nxt >= 20 else 20

    def close(self):
        if self.closed:
            return
        self.closed = True
        for c in self._slots:
            if c._in_use:
                if c._phase == _PH_UPGRADED and not c._out:
                    # a WebSocket between frames learns why: close code 1001, "going away"
                    try:
                        c._write(b"\x88\x02\x03\xe9")
                    except OSError:
                        pass
                c._timer = _T_NONE
                c._timeout()
        if self._poller is not None:
            _unpoll(self._poller, self, self.sock)
        self.sock.close()


def _readable(sock):
    p = select.poll()
    p.register(sock, select.POLLIN)
    return bool(p.poll(0))


def _answer_busy(sock, tls):
    if tls:
        # a TLS client would read a plain 503 as a broken handshake: it only sees the close
        sock.close()
        return
    try:
        sock.setblocking(False)
        for _ in range(8):
            try:
                if len(sock.recv(128)) < 128:
                    break
            except OSError:
                break
        sock.send(_BUSY_503)
    except OSError:
        pass
    sock.close()


class Conn:
    """One connection slot of a Server: made when the server starts, it serves each client
    Server.accept gives it (kiln_conn.c)."""

    def __init__(self, server, slot):
        self.server = server
        self.slot = slot
        self.sock = self.raw = None
        self.peer = None
        self.task = None
        self.pending = None
        self._in_use = False
        self._closed = True
        self._phase = _PH_CLOSED
        self._timer = _T_NONE
        self._in = self._out = b""
        self._req = self._src = None
        self._polled = 0

    def _open(self, sock, peer):
        sock.setblocking(False)
        self.sock = sock
        # a TLS socket (Server's wrap=) is a stream with read/write only
        self._read = getattr(sock, "recv", None) or sock.read
        self._write = getattr(sock, "send", None) or sock.write
        self.peer = peer
        self.task = None
        self.pending = None
        self._in = b""
        self._out = b""
        self._phase = _PH_HEAD
        self._timer = _T_IDLE
        self._tstart = ticks_ms()
        self._served = False
        self._closed = False
        self._eof = False
        self._req = None
        self._drain = 0
        self._yield = False
        self._reset()

    def _reset(self):
        self._keep_alive = True
        self._head_only = False
        self._continue_sent = False
        self._streaming = False
        self._body_left = 0
        self._frame = _FRAME_NONE
        self._out_left = 0
        self._status = 0
        self._started = False
        self._src = None
        self._consumed = 0

    # --- I/O ---

    def _recv(self):
        # Bytes read, b"" at the end of input, None when nothing is there yet.
        if self._eof:
            return b""
        try:
            data = self._read(self.server.recv_buffer)
        except OSError as e:
            if _would_block(e):
                return None
            data = b""
        if data is None:  # a TLS socket's read() with nothing decrypted yet
            return None
        if not data:
            self._eof = True
        return data

    def _flush(self):
        # 0 when the output is written, _RUN_WRITE when the socket is full, -1 on an error.
        while self._out:
            try:
                n = self._write(self._out)
            except OSError as e:
                if _would_block(e):
                    n = None
                else:
                    return -1
            if n is None:
                if self._timer != _T_SEND:
                    self._timer = _T_SEND
                    self._tstart = ticks_ms()
                return _RUN_WRITE
            self._out = self._out[n:]
        return 0

    def _emit(self, data):
        if data:
            self._out += data

    def _log(self, status, what):
        if status:
            print("Kiln: %d %s from %s" % (status, what, _peer_host(self.peer)))
        else:
            print("Kiln: %s from %s" % (what, _peer_host(self.peer)))

    # --- the Python-facing steps ---

    def run(self):
        return self._settle(self._turn(), False)

    def _turn(self):
        try:
            return self._step()
        except Exception as e:  # noqa: BLE001 - as the C loop: a 500 if nothing was sent
            return self._fail(e)

    def _settle(self, r, polled):
        # kiln_conn.c's kiln_conn_settle: waiting, the connection stays in the poll set; its Python
        # part begins outside it, in the slot's worker when the poller served it
        srv = self.server
        if srv._poller is None or r == _RUN_CLOSE:
            return r
        if r == _RUN_READ or r == _RUN_WRITE:
            self.task = None
            if _poll(srv._poller, self, self.raw, select.POLLIN if r == _RUN_READ else select.POLLOUT):
                return r
        else:
            _unpoll(srv._poller, self, self.raw)
            if not polled:
                return r
            try:
                srv._dispatch(self, r)
                return r
            except Exception:  # noqa: BLE001 - as the C loop: out of memory, closed
                pass
        print("Kiln: out of memory, closed a connection")
        self.close()
        return _RUN_CLOSE

    def _ready(self):
        if self._polled:
            self._settle(self._turn(), True)

    def _start(self):
        try:
            self.raw.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: responses go out as written
        except (OSError, AttributeError):
            pass
        self._settle(self._turn(), True)

    def respond(self, res):
        if self._phase != _PH_HANDLER:
            return _RUN_CLOSE
        try:
            r = self._respond(res)
            r = self._step() if r is None else r
        except Exception as e:  # noqa: BLE001
            r = self._fail(e)
        return self._settle(r, False)

    def feed(self, chunk):
        if self._phase != _PH_ASTREAM:
            return _RUN_CLOSE
        try:
            if chunk is None:
                self._end_body()
            else:
                self._chunk(chunk)
            r = self._step()
        except Exception as e:  # noqa: BLE001
            r = self._fail(e)
        return self._settle(r, False)

    def fail(self, exc):
        return self._settle(self._fail(exc), False)

    def _fail(self, exc):
        in_handler = self._phase == _PH_HANDLER
        oom = isinstance(exc, MemoryError)
        print("Kiln: %s from %s: %s" % ("500 handler error" if in_handler else "500 server error",
                                        _peer_host(self.peer), _exc_text(exc)))
        if self.server.debug:
            _print_exception(exc)
        if self._closed:
            return _RUN_CLOSE
        started = self._started
        self._end_streaming()
        self._drop_request()
        if started:
            self.close()
            return _RUN_CLOSE
        self._keep_alive = self._keep_alive and in_handler and not oom
        if oom:
            # the answer to a MemoryError is a constant: it formats nothing
            self._emit(_OOM_500)
            self._status = 500
        else:
            self._simple(500, not self._keep_alive)
        try:
            return self._done() or self._step()
        except Exception:  # noqa: BLE001
            self.close()
            return _RUN_CLOSE

    def _drop_request(self):
        # As the C loop: the request is finished, a body source being sent is closed (an
        # event stream's view is cancelled so).
        self._streaming = False
        if self._req is not None:
            self._req.finish()
            self._req = None
        src = self._src if self._phase == _PH_STREAM else self.pending if self._phase == _PH_ASTREAM else None
        self._src = self.pending = None
        _close_source(src)

    def close(self, sock=None):
        # The slot's Conn serves the next client once closed, so a task that may have been
        # cancelled (timeout, eviction) names the socket it served: once this Conn serves
        # another socket, the call does nothing.
        if sock is not None and sock is not self.raw:
            return
        if self._closed:
            self._phase = _PH_CLOSED
            return
        self._closed = True
        self._drop_request()
        self._phase = _PH_CLOSED
        self._timer = _T_NONE
        # out of the poll set before the socket is closed
        if self.server._poller is not None:
            _unpoll(self.server._poller, self, self.raw)
        for s in (self.sock, self.raw):
            # a TLS stream whose handshake failed has let go of its socket without closing it
            try:
                s.close()
            except OSError:
                pass
        # a parked slot keeps no request bytes or response alive
        self._in = self._out = b""
        self.server._release(self)

    def body_read(self, n):
        # A streamed Content-Length body: up to n bytes, b"" at its end, None to wait.
        if not self._streaming:
            return b""
        if self._body_left == 0:
            return b""
        if not self._in:
            data = self._recv()
            if data is None:
                if self._timer != _T_BODY:
                    self._timer = _T_BODY
                    self._tstart = ticks_ms()
                return None
            if not data:
                raise EOFError("connection closed during the body")
            self._in = data
        k = min(n, self._body_left, len(self._in))
        data, self._in = self._in[:k], self._in[k:]
        self._body_left -= k
        return data

    # --- internals ---

    def _timeout(self):
        if self._timer in (_T_HEAD, _T_BODY):
            if not self._out:
                try:
                    self.sock.send(_TIMEOUT_408)
                except OSError:
                    pass
            self._log(408, reason(408))
        elif self._timer == _T_SEND:
            self._log(0, "send timeout, closing connection")
        task = self.task
        self.close()
        if task is not None:
            try:
                task.cancel()
            except Exception:  # noqa: BLE001
                pass

    def _simple(self, status, close):
        text = reason(status).encode()
        self._emit(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s" % (
            status, text, len(text), b"Connection: close\r\n" if close else b"", text))
        self._status = status
        if close:
            self._keep_alive = False

    def _step(self):
        while True:
            if self._closed:
                return _RUN_CLOSE
            phase = self._phase
            if phase == _PH_HEAD:
                # Responses written so far go out before the next request is read; after a
                # response, the next request waits its turn in asyncio's poll, so that a fast
                # client on one connection does not starve the others (Python takes long
                # enough per request that the next one is often there already).
                r = self._flush()
                if not r:
                    if self._yield:
                        self._yield = False
                        r = _RUN_READ
                    else:
                        r = self._head()
            elif phase == _PH_SEND:
                r = self._flush()
                if r == 0:
                    r = self._done()
            elif phase == _PH_STREAM:
                r = self._stream()
            elif phase == _PH_ASTREAM:
                r = self._flush()
                if r == 0:
                    self._timer = _T_NONE
                    r = _RUN_ANEXT
            elif phase == _PH_CLOSING:
                r = self._flush()
                if r == 0 and self._drain:
                    r = self._drain_input()
                if r <= 0:
                    r = _RUN_CLOSE
            elif phase == _PH_UPGRADED:
                r = self._flush()
                if r == 0:
                    self._timer = _T_NONE
                    r = _RUN_UPGRADE
            elif phase == _PH_HANDLER:
                r = _RUN_AWAIT
            else:
                r = _RUN_CLOSE
            if r is None:
                continue
            if r < 0:
                r = _RUN_CLOSE
            if r == _RUN_CLOSE:
                self.close()
            return r

    def _drain_input(self):
        # Read and drop what the client still sends, so closing does not reset the connection.
        while True:
            data = self._recv()
            if data is None:
                if self._drain == 1:
                    return 0
                if self._timer != _T_DRAIN:
                    self._timer = _T_DRAIN
                    self._tstart = ticks_ms()
                return _RUN_READ
            if not data:
                return 0


    def _read_more(self):
        # None once more bytes are in; else what run() answers (wait to read, or close)
        data = self._recv()
        if data is None:
            return _RUN_READ
        if not data:
            return _RUN_CLOSE
        self._in += data
        return None

    def _refuse(self, status):
        self._log(status, reason(status))
        self._simple(status, True)
        self._phase = _PH_CLOSING
        self._drain = 2
        return None
    def _head(self):
        srv = self.server
        while True:
            buf = self._in
            if buf:
                head_len, h = _parse_head(buf, len(buf), _MAX_HEADERS, srv._lim)
                if head_len != _INCOMPLETE:
                    break
                if self._timer == _T_IDLE:
                    self._timer = _T_HEAD
                    self._tstart = ticks_ms()
            more = self._read_more()
            if more is not None:
                return more
        if head_len < 0:
            return self._refuse(-head_len)
        self._head_only = h.method == "HEAD"
        if not h.flags & _F_KEEP_ALIVE:
            self._keep_alive = False
        cl = h.content_length if h.flags & _F_CONTENT_LENGTH else 0
        chunked = h.flags & _F_CHUNKED
        if (chunked or cl > len(buf) - head_len) and h.flags & _F_EXPECT_CONTINUE and not self._continue_sent:
            self._continue_sent = True
            self._emit(b"HTTP/1.1 100 Continue\r\n\r\n")
        if cl > srv.body_in_memory and srv.body_stream is not None and not chunked:
            req = new_request(srv.request_class, buf, h, None)
            self._in = buf[head_len:]
            self._streaming = True
            self._body_left = cl
            req.stream = srv.body_stream(self)
            return self._call(req, 0)
        if self._out and self._flush() == _RUN_WRITE:
            return _RUN_WRITE
        if chunked:
            r, body, end = _decode_chunked(buf, head_len, len(buf), srv._lim)
        else:
            end = head_len + cl
            r = 0 if len(buf) >= end else _INCOMPLETE
            body = buf[head_len:end]
        if r == _INCOMPLETE:
            if self._timer != _T_BODY:
                self._timer = _T_BODY
                self._tstart = ticks_ms()
            return self._read_more()
        if r < 0:
            return self._refuse(-r)
        req = new_request(srv.request_class, buf, h, body)
        self._in = buf[end:]
        return self._call(req, end)

    def _call(self, req, consumed):
        req.client_addr = self.peer
        self._req = req
        self._phase = _PH_HANDLER
        self._timer = _T_NONE
        t0 = ticks_ms()
        res = self.server.handler(req)
        dt = ticks_diff(ticks_ms(), t0)
        if dt >= _BLOCKED_LOG_MS:
            print("Kiln: %s %s blocked the loop for %d.%d s" % (req.method, req.target, dt // 1000, dt % 1000 // 100))
        if self._closed:
            return _RUN_CLOSE
        return self._respond(res)

    def _respond(self, res):
        if not isinstance(res, (tuple, list)):
            if not hasattr(res, "send"):
                raise TypeError("handler must return (status, headers, body)")
            self.pending = res
            self._phase = _PH_HANDLER
            if self._flush() < 0:
                return _RUN_CLOSE
            return _RUN_AWAIT
        if len(res) != 3 or type(res[0]) is not int:
            raise TypeError("handler must return (status, headers, body)")
        status, headers, body = res
        if status == 101:
            return self._upgrade(headers, body)
        if status < 200 or status > 599:
            raise ValueError("bad status")
        known = True
        data = b""
        src = None
        if body is None:
            pass
        elif isinstance(body, str):
            data = body.encode()
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
        elif isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        else:
            known = False
            if hasattr(body, "__aiter__"):
                src = body.__aiter__()
                is_async = True
            elif hasattr(body, "__anext__"):
                src = body
                is_async = True
            else:
                is_async = False
                src = body if hasattr(body, "readinto") else iter(body)
        head = self._out_head(status, headers, known, len(data))
        if head is None:
            self._log(500, "invalid response header (CR/LF, bad name or type)")
            _close_source(src)
            self._simple(500, False)
            return self._done()
        self._started = True
        self._emit(head)
        if self._frame == _FRAME_NONE:
            _close_source(src)
            return self._done()
        if known:
            self._emit(data)
            self._phase = _PH_SEND
            return None
        if is_async:
            self.pending = src
            self._phase = _PH_ASTREAM
            return None
        self._src = src
        self._phase = _PH_STREAM
        return None

    # --- after a 101: WebSocket (kiln_wsconn.c) ---

    def _upgrade(self, headers, body):
        if not hasattr(body, "serve"):
            raise ValueError("a 101's body must have serve(conn)")
        if self._req is None or self._req.upgrade is None or self._streaming:
            raise ValueError("101 answers an Upgrade request")
        head = self._out_head(101, headers, True, 0)
        if head is None:
            raise ValueError("invalid response header")
        self._emit(head)
        if self.server.access_log:
            print("Kiln: %s %s %s 101" % (_peer_host(self.peer), self._req.method, self._req.target))
        self._req = None
        self.pending = body
        self._keep_alive = False
        self._served = True
        from _kiln_ws import Reader

        self._ws = Reader()
        self._phase = _PH_UPGRADED
        return None

    def ws_recv(self, max_message, drain=False):
        while True:
            if self._closed or self._phase != _PH_UPGRADED:
                return _WS_GONE
            n, op, end, data = self._ws.read(self._in, max_message)
            if n < 0:
                return -n
            if n == 0:
                more = self._recv()
                if more is None:
                    return None
                if not more:
                    return _WS_GONE
                self._in += more
                continue
            self._in = self._in[n:]
            if data or end:
                if op == 1 and end and self._ws.msg_len == len(data):
                    data = data.decode()
                return (op, data, end)

    def ws_send(self, op, data, fin=True):
        if self._closed or self._phase != _PH_UPGRADED:
            return None
        if self._out:
            raise RuntimeError("previous frame not written")
        from _kiln_ws import header

        data = data.encode() if type(data) is str else bytes(data)
        self._out = header(op, fin, len(data)) + data
        return self.ws_flush()

    def ws_flush(self):
        r = self._flush()
        if r == 0:
            self._timer = _T_NONE
            return True
        return False if r > 0 else None

    def _out_head(self, status, headers, known, length):
        keep_alive = self._keep_alive
        if self._streaming and self._body_left:
            self._keep_alive = False
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason(status).encode())]
        app_length = app_connection = app_te = False
        app_len = 0
        if headers is None:
            pairs = ()
        elif isinstance(headers, dict):
            pairs = headers.items()
        elif isinstance(headers, (list, tuple)):
            pairs = headers
        else:
            pairs = None
        ok = pairs is not None
        for pair in pairs or ():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                ok = False
                break
            name, value = pair
            if not isinstance(name, (str, bytes)):
                ok = False
                break
            n = name.encode() if isinstance(name, str) else name
            if not _field_ok(n, False):
                ok = False
                break
            lname = n.lower()
            if lname == b"transfer-encoding":
                # only "chunked" (any case): Kiln drops it and frames the body itself; any other
                # coding would leave the body unframed
                if not isinstance(value, (str, bytes)) or (
                        value.encode() if isinstance(value, str) else value).lower() != b"chunked":
                    ok = False
                    break
                app_te = True
                continue
            if type(value) is int:
                if value < 0:
                    ok = False
                    break
                v = b"%d" % value
                if lname == b"content-length":
                    app_length = True
                    app_len = value
            elif isinstance(value, (str, bytes)):
                v = value.encode() if isinstance(value, str) else value
                if not _field_ok(v, True):
                    ok = False
                    break
                if lname == b"content-length":
                    app_length = True
                    if not v or len(v) > 9 or any(b < 48 or b > 57 for b in v):
                        ok = False
                        break
                    app_len = int(v)
                elif lname == b"connection":
                    app_connection = True
                    if b"close" in v.lower():
                        self._keep_alive = False
            else:
                ok = False
                break
            lines.append(n + b": " + v + b"\r\n")
        if not ok or (app_te and app_length):
            self._keep_alive = keep_alive
            return None
        bodiless = status < 200 or status == 204 or status == 304
        http10 = self._req.http_version == "1.0"
        if app_length:
            self._frame = _FRAME_LENGTH
            self._out_left = app_len
            if known and length != app_len:
                self._keep_alive = False
        elif known:
            self._frame = _FRAME_LENGTH
            self._out_left = length
            if not bodiless:
                lines.append(b"Content-Length: %d\r\n" % length)
        elif not http10:
            self._frame = _FRAME_CHUNKED
            if not bodiless:
                lines.append(b"Transfer-Encoding: chunked\r\n")
        elif self._head_only or bodiless:
            self._frame = _FRAME_NONE
        else:
            self._frame = _FRAME_CLOSE
            self._keep_alive = False
        if self._head_only or bodiless:
            self._frame = _FRAME_NONE
        if not app_connection:
            if not self._keep_alive:
                lines.append(b"Connection: close\r\n")
            elif http10:
                lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        self._status = status
        return b"".join(lines)

    def _chunk(self, chunk):
        if isinstance(chunk, str):
            chunk = chunk.encode()
        elif not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        if not chunk:
            return
        if self._frame == _FRAME_CHUNKED:
            self._emit(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        else:
            if self._frame == _FRAME_LENGTH:
                chunk = chunk[:self._out_left]
                self._out_left -= len(chunk)
            self._emit(chunk)

    def _end_body(self):
        if self._frame == _FRAME_CHUNKED:
            self._emit(b"0\r\n\r\n")
        elif self._frame == _FRAME_LENGTH and self._out_left:
            self._keep_alive = False  # the body was shorter than its Content-Length
        self.pending = None
        self._phase = _PH_SEND

    def _stream(self):
        # A file (readinto) or a sync iterator: send it in send_buffer pieces.
        src = self._src
        size = self.server.send_buffer
        while len(self._out) < size:
            if self._frame == _FRAME_LENGTH and not self._out_left:
                chunk = None  # the Content-Length is sent (a 206 ends inside its file)
            elif hasattr(src, "readinto"):
                buf = bytearray(size)
                n = src.readinto(buf)
                if n is not None and (n < 0 or n > size):
                    raise ValueError("readinto returned a bad count")
                chunk = bytes(buf[:n]) if n else None
            else:
                try:
                    chunk = next(src)
                except StopIteration:
                    chunk = None
            if chunk is None:
                self._src = None
                _close_source(src)
                self._end_body()
                return None
            self._chunk(chunk)
        return self._flush() or None

    def _end_streaming(self):
        if self._streaming:
            if self._body_left:
                self._keep_alive = False
                self._drain = 2
            self._streaming = False

    def _done(self):
        srv = self.server
        if srv.access_log and self._req is not None:
            print("Kiln: %s %s %s %d" % (_peer_host(self.peer), self._req.method, self._req.target, self._status))
        self._end_streaming()
        self._drop_request()
        self._served = True
        if not self._keep_alive:
            self._phase = _PH_CLOSING
            if not self._drain:
                self._drain = 1
            return None
        self._reset()
        self._yield = not self._in
        self._phase = _PH_HEAD
        self._timer = _T_IDLE
        self._tstart = ticks_ms()
        return None


def _close_source(src):
    close = getattr(src, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001
            pass
