from typing import Any, Callable, TypeVar

from kiln.app import App
from kiln.request import Request

_F = TypeVar("_F", bound=Callable[..., Any])

class CSRF:
    """CSRF protection: unsafe methods carry `csrf.token(request)` in a field or header."""

    cookie_name: str
    field_name: str
    header_name: str
    def __init__(self, app: App | None = None) -> None: ...
    def initialize(self, app: App) -> None: ...
    def exempt(self, f: _F) -> _F: ...
    def token(self, request: Request) -> str: ...
    def check(self, request: Request) -> Any: ...
