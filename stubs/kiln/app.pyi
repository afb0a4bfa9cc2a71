from typing import Any, Callable, TypeVar

from kiln.request import Request
from kiln.response import Response
from kiln.routing import Router
from kiln.server import Server

_F = TypeVar("_F", bound=Callable[..., Any])

current_app: App | None

class Unanswerable(TypeError):
    """A view (or hook) returned a value Kiln cannot send; args[0] names its type."""

def make_response(r: Any) -> Response:
    """Turn what a handler returned into a Response."""

def url_for(endpoint: str, **params: Any) -> str:
    """The URL of `endpoint` in the current app (see `App.url_for`)."""

class App:
    """A web application: routes, hooks and error handlers, served by `run` or `start_server`."""

    name: str | None
    debug: bool
    access_log: bool
    router: Router
    before_request_handlers: list[Callable[..., Any]]
    after_request_handlers: list[Callable[..., Any]]
    after_error_request_handlers: list[Callable[..., Any]]
    error_handlers: dict[Any, Any]
    template_folder: str
    server: Server | None
    request_class: type[Request]
    def __init__(self, name: str | None = None, debug: bool = False, access_log: bool = False) -> None: ...
    def route(
        self, url_pattern: str, methods: list[str] | tuple[str, ...] | None = None, endpoint: str | None = None
    ) -> Callable[[_F], _F]: ...
    def get(self, url_pattern: str, endpoint: str | None = None) -> Callable[[_F], _F]: ...
    def post(self, url_pattern: str, endpoint: str | None = None) -> Callable[[_F], _F]: ...
    def put(self, url_pattern: str, endpoint: str | None = None) -> Callable[[_F], _F]: ...
    def patch(self, url_pattern: str, endpoint: str | None = None) -> Callable[[_F], _F]: ...
    def delete(self, url_pattern: str, endpoint: str | None = None) -> Callable[[_F], _F]: ...
    def before_request(self, f: _F) -> _F: ...
    def after_request(self, f: _F) -> _F: ...
    def after_error_request(self, f: _F) -> _F: ...
    def errorhandler(self, status_code_or_exception_class: int | type[BaseException]) -> Callable[[_F], _F]: ...
    def mount(self, subapp: App, url_prefix: str = "", local: bool = False) -> None: ...
    def url_for(self, endpoint: str, **params: Any) -> str: ...
    def static(
        self, url_prefix: str, root: str, *, index: str = "index.html", max_age: int | None = None, gzip: bool = True
    ) -> None: ...
    def handle(self, creq: Request) -> Any: ...
    async def start_server(
        self, host: str = "0.0.0.0", port: int = 5000, debug: bool = False, **config: Any
    ) -> Server:
        """Start serving as an asyncio task; returns the server (`close()`, `await wait_closed()`)."""
    def run(self, host: str = "0.0.0.0", port: int = 5000, debug: bool = False, **config: Any) -> None:
        """Serve until interrupted, or until `shutdown()` (blocking)."""
    def shutdown(self) -> None:
        """Stop the server of `run()` or `start_server`: it closes once the current asyncio step
        is done, so a view calling this still sends its response."""
