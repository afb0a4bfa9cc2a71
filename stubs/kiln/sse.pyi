from typing import Any, Callable

from kiln.request import Request
from kiln.response import Response

class SSE:
    """The event sender a `@with_sse` view gets."""

    max_queued: int
    heartbeat: int
    def __init__(self, view: Any, request: Request, args: Any, kwargs: Any) -> None: ...
    async def send(
        self,
        data: Any,
        event: str | None = None,
        event_id: str | None = None,
        retry: int | None = None,
        comment: bool = False,
    ) -> None: ...
    def close(self) -> None: ...

def sse_response(request: Request, event_function: Callable[..., Any], *args: Any, **kwargs: Any) -> Response: ...
def with_sse(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: `async def view(request, sse, ...)` answers with an event stream."""
