from typing import Any, Callable

from _kiln import Request

class BodyStream:
    """`request.stream` of a body larger than `body_in_memory`."""

    def __init__(self, conn: Any) -> None: ...
    async def read(self, n: int = -1) -> bytes:
        """Up to n bytes of the body (n < 0: all the rest); b'' at its end."""
    def close(self) -> None:
        """Close the connection now, answering nothing (the client left during the body)."""

class Server:
    """A running Kiln server: `close()`, `await wait_closed()`, `connections`."""

    @property
    def connections(self) -> int: ...
    def __init__(self, srv: Any, tasks: Any, workers: Any) -> None: ...
    def close(self) -> None: ...
    async def wait_closed(self) -> None: ...

async def start_server(
    handler: Callable[[Request], Any], host: str = "0.0.0.0", port: int = 80, **config: Any
) -> Server:
    """Serve `handler` as asyncio tasks; returns the Server."""

def run(
    handler: Callable[[Request], Any],
    host: str = "0.0.0.0",
    port: int = 80,
    started: Callable[[Server], Any] | None = None,
    **config: Any,
) -> None:
    """Serve until Ctrl-C or the server's `close()`: the blocking form of `start_server`.
    `started(server)`, if given, gets the `Server` once it listens."""
