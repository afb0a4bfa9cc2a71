from typing import Any, Callable

from kiln.request import Request
from kiln.response import Response

class WebSocketError(Exception): ...

class ConnectionClosed(WebSocketError):
    code: int
    reason: str
    def __init__(self, code: int, reason: str = "") -> None: ...

def accept_key(key: str) -> str: ...

class WebSocket:
    """The WebSocket a `@with_websocket` view gets."""

    max_message: int
    max_queue: int
    ping_interval: float | None
    ping_timeout: float
    close_timeout: float
    request: Request
    subprotocol: str | None
    closed: bool
    close_code: int | None
    close_reason: str
    async def receive(self) -> str | bytes: ...
    async def send(self, data: str | bytes | bytearray | memoryview) -> None: ...
    async def ping(self, data: bytes = b"") -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...
    async def serve(self, conn: Any) -> None: ...
    def __aiter__(self) -> WebSocket: ...
    async def __anext__(self) -> str | bytes: ...

def with_websocket(f: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorator: `async def view(request, ws, ...)` serves a WebSocket."""

def _handshake(request: Request, view: Any, args: Any, kwargs: Any, options: Any) -> Response: ...
