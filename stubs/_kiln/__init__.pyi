"""Type stubs for `_kiln`, Kiln's C module (cmodules/kiln/): the HTTP parser, the request
binding and the socket loop."""

from typing import Any, Callable, Iterator

def version() -> str:
    """Kiln's version, as built into the firmware."""

MAX_CONNECTIONS: int
BODY_IN_MEMORY: int
RUN_WRITE: int
RUN_AWAIT: int
RUN_UPGRADE: int
METHODS: tuple[str, ...]
"""The methods the parser knows, in the order of its method codes."""

def is_coroutine_function(f: Any) -> bool:
    """True when calling `f` gives a coroutine (an `async def` function or a bound one)."""

def url_decode(s: str | bytes, plus: bool = False) -> str:
    """Percent-decode `s`; with `plus=True` a `+` becomes a space (form encoding)."""

def parse_qs(qs: str | bytes) -> list[tuple[str, str]]:
    """The decoded `(name, value)` pairs of a query string, in order."""

def reason(status: int) -> str:
    """The reason phrase the server writes for `status` ("" when it knows none)."""

def header_ok(name: str | bytes, value: str | bytes) -> bool:
    """Whether a response header may be written as given: the name a token, the value free of
    control characters other than HTAB (the parser's rules for incoming fields)."""

def route_match(router: Any, path: str, out: list[Any]) -> list[Any] | None:
    """The first dynamic rule of a `kiln.routing.Router` matching `path`: `out` (a list of
    two) filled with `[entry, argument]` and returned, else None (`Router.match`)."""

class Headers:
    """A request's headers, read-only, names matched case-insensitively."""

    def __getitem__(self, name: str) -> str: ...
    def __contains__(self, name: object) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def get(self, name: str, default: Any = None) -> Any: ...
    def getall(self, name: str) -> list[str]: ...
    def items(self) -> list[tuple[str, str]]: ...

class Request:
    """A parsed request; its fields point into the received bytes. Servers and parsers make
    requests of a subclass given as their `request_class` (without calling `__init__`);
    `Cls(req)` gives req's parse to a new instance of subclass `Cls`."""

    def __init__(self, req: Request) -> None: ...
    def finish(self) -> None: ...

    method: str
    path: str
    target: str
    query_string: str
    http_version: str
    headers: Headers
    content_length: int | None
    chunked: bool
    keep_alive: bool
    expect_continue: bool
    upgrade: bool
    body: bytes | None
    stream: Any
    client_addr: Any

class Parser:
    """An incremental HTTP/1.1 request parser. `feed(data)` gives a `Request` once the head
    and body are complete, None while it needs more bytes, and raises ValueError on a bad
    request."""

    def __init__(
        self,
        *,
        max_request_line: int = ...,
        max_header_line: int = ...,
        max_head: int = ...,
        max_headers: int = ...,
        max_body: int = ...,
        custom_methods: bool = False,
        lenient_lf: bool = False,
        request_class: type[Request] | None = None,
    ) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview) -> Request | None: ...

class Conn:
    """One connection slot of a `Server`, reused by each client of the slot (not constructed
    from Python)."""

    sock: Any
    task: Any
    pending: Any
    peer: Any
    slot: int
    # Each step returns what the connection task waits for next (0: done; kiln_server.h KILN_RUN_*).
    def run(self) -> int: ...
    def respond(self, result: Any) -> int: ...
    def feed(self, chunk: bytes | str | None) -> int: ...
    def fail(self, exc: BaseException) -> int: ...
    # close(sock): only while the Conn still serves that socket.
    def close(self, sock: Any = None) -> None: ...
    def body_read(self, n: int) -> bytes | None: ...

class Loop:
    """The wait of asyncio's IOQueue (kiln.server installs it): polls asyncio's streams and every
    Kiln connection at once, serves a ready connection in C and wakes a ready stream's task."""

    def __init__(self, poller: Any, waiting: dict[int, list[Any]], tasks: Any) -> None: ...
    def wait(self, dt: int) -> None: ...

class Server:
    """The socket loop over a listening socket; `kiln.server` drives it under asyncio."""

    sock: Any
    connections: int
    max_connections: int
    closed: bool
    def __init__(
        self,
        sock: Any,
        handler: Callable[[Request], Any],
        *,
        max_connections: int = 8,
        head_timeout: int = 10000,
        body_timeout: int = 30000,
        idle_timeout: int = 15000,
        send_timeout: int = 30000,
        max_body: int = ...,
        max_head: int = ...,
        recv_buffer: int = ...,
        send_buffer: int = ...,
        access_log: bool = False,
        debug: bool = False,
        body_in_memory: int = ...,
        body_stream: Any = None,
        lenient_lf: bool = False,
        request_class: type[Request] | None = None,
    ) -> None: ...
    def accept(self) -> Conn | None | bool: ...
    def attach(self, poller: Any, dispatch: Callable[[Conn, int], None]) -> None:
        """Its clients wait in poller (asyncio's select.poll, waited on by a Loop) from now on;
        dispatch(conn, code) runs when a connection's Python part begins."""
    def sweep(self) -> int: ...
    def close(self) -> None: ...
