from typing import Any, Iterator, NoReturn

TEXT: str
HTML: str
JSON: str
TEXT_HEADERS: tuple[tuple[str, str], ...]
JSON_HEADERS: tuple[tuple[str, str], ...]

def http_date(timestamp: float) -> str: ...
def check_header(name: str, value: str) -> None: ...

class NoCaseDict:
    """A dict of header names matched case-insensitively."""

    def __init__(self, initial: Any = None) -> None: ...
    def __getitem__(self, key: str) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __delitem__(self, key: str) -> None: ...
    def __contains__(self, key: object) -> bool: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def pop(self, key: str, *default: Any) -> Any: ...
    def setdefault(self, key: str, default: Any = None) -> Any: ...
    def keys(self) -> Any: ...
    def values(self) -> Any: ...
    def items(self) -> Any: ...
    def update(self, other: Any) -> None: ...

class HTTPException(Exception):
    """Raised by `abort()`; the app turns it into an error response."""

    status_code: int
    reason: str | None
    def __init__(self, status_code: int, reason: str | None = None) -> None: ...

def abort(status_code: int, reason: str | None = None) -> NoReturn:
    """Stop handling the request and answer with `status_code` (and `reason` as body)."""

class Response:
    """A response: body (str, bytes, dict/list as JSON, a generator, a file), status, headers."""

    default_content_type: str
    body: Any
    status_code: int
    reason: str | None
    cookies: Any
    headers: NoCaseDict
    def __init__(
        self, body: Any = "", status_code: int = 200, headers: dict[str, str] | None = None, reason: str | None = None
    ) -> None: ...
    def set_cookie(
        self,
        cookie: str,
        value: str,
        path: str | None = None,
        domain: str | None = None,
        expires: Any = None,
        max_age: int | None = None,
        secure: bool = False,
        http_only: bool = False,
        partitioned: bool = False,
        same_site: str | None = None,
    ) -> None: ...
    def delete_cookie(self, cookie: str, path: str | None = None, domain: str | None = None) -> None: ...
    def to_tuple(self) -> tuple[int, Any, Any]: ...
    @classmethod
    def redirect(cls, location: str, status_code: int = 302) -> Response: ...
    @classmethod
    def send_file(
        cls,
        filename: str,
        status_code: int = 200,
        content_type: str | None = None,
        max_age: int | None = None,
        **kwargs: Any,
    ) -> Response: ...

def slash_location(target: str) -> str: ...
def redirect(location: str, status_code: int = 302) -> Response:
    """A redirect response to `location` (refuses CR/LF)."""
