from typing import Any

from kiln.app import App
from kiln.request import Request

class CORS:
    """Cross-Origin Resource Sharing for an app, preflights included."""

    def __init__(
        self,
        app: App | None = None,
        allowed_origins: list[str] | str | None = None,
        allow_credentials: bool = False,
        allowed_methods: list[str] | None = None,
        expose_headers: list[str] | None = None,
        allowed_headers: list[str] | None = None,
        max_age: int | None = None,
        handle_cors: bool = True,
    ) -> None: ...
    def initialize(self, app: App, handle_cors: bool = True) -> None: ...
    def origin_allowed(self, origin: str) -> bool: ...
    def after_request(self, request: Request, response: Any) -> Any: ...
