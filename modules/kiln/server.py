"""Kiln's HTTP server: the C socket loop (`_kiln.Server`) driven by asyncio.

Connections wait in asyncio's own poll set and are served by C where asyncio waits (`_kiln.Loop`
is the wait of asyncio's IOQueue): a request to a sync handler takes no task and no scheduler
pass. What must run in Python (an awaitable handler, an async body, a WebSocket) runs in the
slot's worker task, and a janitor task enforces the timeouts.
"""

import asyncio
import gc
import socket
import sys
from asyncio import core

import _kiln

# What the C loop asks a worker to do (kiln_server.h KILN_RUN_*); READ and WRITE: C has the
# connection back.
_WRITE = _kiln.RUN_WRITE
_AWAIT = _kiln.RUN_AWAIT
_UPGRADE = _kiln.RUN_UPGRADE

# Per-connection heap: buffers, objects and the task, with room for a request's own objects.
_BYTES_PER_CONNECTION = 4096


def _defaults(config):
    # Sized from the heap: half of it for connections; small heaps get small send buffers.
    heap = gc.mem_free() + gc.mem_alloc()
    if "max_connections" not in config:
        n = max(2, min(256, heap // 2 // _BYTES_PER_CONNECTION))
        config["max_connections"] = min(n, _kiln.MAX_CONNECTIONS) if _kiln.MAX_CONNECTIONS else n
    if heap < 65536 and "send_buffer" not in config:
        config["send_buffer"] = 512
    # Bodies held in memory stay under an eighth of the heap (the App asks for its Request's
    # max_body_length); larger ones are streamed to the handler.
    config["body_in_memory"] = min(config.get("body_in_memory", _kiln.BODY_IN_MEMORY), heap // 8)


def _ms(seconds):
    return int(seconds * 1000)


class _IOQueue(core.IOQueue):
    # asyncio's IOQueue, same poll set and map, whose wait_io_event is the C loop's (an instance
    # attribute: the bound method of a C object, called without a Python frame).
    def __init__(self, ioq):
        self.poller = ioq.poller
        self.map = ioq.map
        self.wait_io_event = _kiln.Loop(ioq.poller, ioq.map, core._task_queue).wait


def _io_queue():
    ioq = core._io_queue
    if type(ioq) is not _IOQueue:
        # tasks already waiting keep the old queue as their data: it shares poll set and map
        ioq = core._io_queue = _IOQueue(ioq)
    return ioq


async def _worker(srv, w):
    # One task per slot for the server's life, so a connection's Python part needs no new task:
    # w is [TaskQueue where it waits, the Conn to serve next, what C asked for, this task].
    q = w[0]
    while True:
        c = w[1]
        if c is None:
            # what Event.wait() does, without its generator object
            q.push(core.cur_task)
            core.cur_task.data = q
            yield
            continue
        w[1] = None
        r = w[2]
        # the client's socket, also under TLS (what close() is matched against)
        s = c.raw
        try:
            while r > _WRITE:
                if r == _UPGRADE:
                    # a 101 went out: the upgrade (a WebSocket) serves the connection to its end
                    try:
                        await c.pending.serve(c)
                    except Exception as e:  # noqa: BLE001 - its view's error: log it and close
                        print("Kiln: an upgraded connection failed")
                        sys.print_exception(e)
                    break
                if r == _AWAIT:
                    try:
                        res = await c.pending
                    except Exception as e:  # noqa: BLE001 - the loop answers 500 and logs it
                        r = c.fail(e)
                    else:
                        r = c.respond(res)
                else:
                    try:
                        chunk = await c.pending.__anext__()
                    except StopAsyncIteration:
                        chunk = None
                    except Exception as e:  # noqa: BLE001 - the loop logs it and closes
                        r = c.fail(e)
                        continue
                    r = c.feed(chunk)
        except MemoryError:
            print("Kiln: out of memory, closed a connection")
        except asyncio.CancelledError:
            # C closed the connection (timeout, eviction); only a closing server ends the worker
            if srv.closed:
                raise
        except (KeyboardInterrupt, SystemExit):
            # for the program: the server's close() ends the connection (a WebSocket gets 1001)
            r = 0
            raise
        finally:
            # still the worker's (an upgrade ended, an error, a timeout's cancel): closed; c
            # serves the slot's next client once closed, so only while it serves s
            if r > _WRITE:
                c.close(s)
            # a parked worker keeps no response or socket alive
            c = s = res = chunk = None


def _new_worker(srv):
    w = [core.TaskQueue(), None, 0, None]
    w[3] = asyncio.create_task(_worker(srv, w))
    return w


def _dispatcher(srv, workers):
    # What C calls when a connection's Python part begins: the slot's worker takes it.
    def dispatch(c, r):
        i = c.slot
        w = workers[i]
        if w[3].done():
            # a worker ended by an error it did not expect: replace it
            w = workers[i] = _new_worker(srv)
        w[1] = c
        w[2] = r
        c.task = w[3]
        if w[0].peek():
            core._task_queue.push(w[0].pop())

    return dispatch


async def _janitor(srv):
    while True:
        try:
            t = srv.sweep()
        except MemoryError:
            t = 100
        await asyncio.sleep_ms(t)


class BodyStream:
    """`req.stream` of a request whose body is larger than `body_in_memory` (`req.body` is None
    then): the handler reads it with `await req.stream.read(n)`. A body left unread closes the
    connection after the response."""

    def __init__(self, conn):
        self._c = conn

    async def read(self, n=-1):
        """Up to n bytes of the body (n < 0: all the rest); b'' at its end."""
        if n < 0:
            parts = []
            while True:
                chunk = await self.read(4096)
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        c = self._c
        while True:
            data = c.body_read(n)
            if data is not None:
                return data
            yield core._io_queue.queue_read(c.raw)

    def close(self):
        """Close the connection now, answering nothing (the client left during the body)."""
        self._c.close()


class Server:
    """A running Kiln server, as returned by `start_server`.

    `close()` stops accepting and closes every connection; `await wait_closed()` returns once
    the server has stopped. `connections` is the number of open client connections.
    """

    def __init__(self, srv, tasks, workers):
        self._srv = srv
        self._tasks = tasks
        self._workers = workers

    @property
    def connections(self):
        return self._srv.connections

    def close(self):
        for t in self._tasks:
            _cancel(t)
        self._srv.close()
        for w in self._workers:
            _cancel(w[3])

    async def wait_closed(self):
        try:
            await self._tasks[0]
        except asyncio.CancelledError:
            pass


def _cancel(task):
    # After Ctrl-C in the C loop's wait, asyncio's current task is the last one that ran, which
    # cannot be cancelled ("can't cancel self"): it ends with its event loop.
    if task is not core.cur_task:
        task.cancel()


def _tls(ctx):
    # What the C loop calls on each new client of a TLS server (Server's wrap=): the handshake
    # happens in the connection's first reads, so a slow client stalls no one.
    def wrap(sock):
        return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)

    return wrap


def _listen(host, port, backlog):
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(ai[-1])
        s.listen(backlog)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s


async def start_server(handler, host="0.0.0.0", port=80, ssl=None, **config):
    """Start serving HTTP on host:port with `handler`; return a `Server`.

    `handler(req)` gets a `_kiln.Request` and returns `(status, headers, body)` or an awaitable
    giving it. headers: None, a dict, or a list of (name, value) pairs. body: None, bytes, str,
    a dict or list (written as JSON, as json.dumps would), a file-like object with `readinto`, a
    sync iterator or an async iterator of chunks. Status
    101 answers an Upgrade request: its body has `async serve(conn)`, which owns the connection
    after the 101 (kiln.websocket).

    Config (all optional): `max_connections` (default from the heap size; lowered to what half
    of the free heap holds),
    `head_timeout=10`, `body_timeout=30`, `idle_timeout=15`, `send_timeout=30` (seconds),
    `max_body=65536`, `max_head=4096`, `recv_buffer=512` (bytes), `send_buffer=1024` (512
    below 64 KB of heap), `backlog` (default 4 × max_connections, at most 255: clients beyond
    the slots wait there),
    `max_per_client` (slots not answered yet that one client address may hold while 75% of
    them are busy; default half of them from 16 slots, none below; 0 for no cap),
    `ssl` (an `ssl.SSLContext` with its certificate chain loaded: serve HTTPS),
    `request_class` (a subclass of `_kiln.Request`: the class the loop makes requests of),
    `access_log=False`, `debug=False` (print tracebacks of handler errors), `lenient_lf=False`
    (accept requests whose lines all end in a bare LF; a head or chunked body mixing bare LF
    with CRLF is 400 either way).
    """
    for name in ("head_timeout", "body_timeout", "idle_timeout", "send_timeout"):
        if name in config:
            config[name] = _ms(config[name])
    _defaults(config)
    # Clients beyond the slots wait in the backlog (lwIP takes its size as a u8).
    backlog = config.pop("backlog", min(4 * config["max_connections"], 255))
    if ssl is not None:
        config["wrap"] = _tls(ssl)
    sock = _listen(host, port, backlog)
    try:
        srv = _kiln.Server(sock, handler, body_stream=BodyStream, **config)
    except Exception:
        sock.close()
        raise
    # a worker per slot, made now like the slots (C may have made fewer slots than asked for)
    workers = []
    try:
        for _ in range(srv.max_connections):
            workers.append(_new_worker(srv))
        tasks = [asyncio.create_task(_janitor(srv))]
        srv.attach(_io_queue().poller, _dispatcher(srv, workers))
    except MemoryError:
        Server(srv, [], workers).close()
        raise
    return Server(srv, tasks, workers)


def run(handler, host="0.0.0.0", port=80, started=None, **config):
    """Serve until Ctrl-C or the server's `close()`: the blocking form of `start_server`.
    `started(server)`, if given, gets the `Server` once it listens."""
    servers = []

    async def main():
        server = await start_server(handler, host, port, **config)
        servers.append(server)
        if started is not None:
            started(server)
        print("Kiln: serving on %s://%s:%d/" % ("https" if config.get("ssl") else "http", host, port))
        await server.wait_closed()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        # Free the port and the connections, so that the app can be run again (REPL).
        for server in servers:
            server.close()
        asyncio.new_event_loop()
