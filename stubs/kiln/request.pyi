from typing import Any, Callable, TypeVar

from _kiln import Headers
from _kiln import Request as ParsedRequest
from kiln.app import App
from kiln.multipart import FileUpload

_T = TypeVar("_T")

class MultiDict(dict[str, Any]):
    """A dict where a key may have several values: `get` gives the first, `getlist` all."""

    def __init__(self, pairs: Any = None) -> None: ...
    def add(self, key: str, value: Any) -> None: ...
    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any: ...
    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]: ...
    def to_dict(self, flat: bool = True) -> dict[str, Any]: ...

class G:
    """Per-request storage (`request.g`): set any attribute."""

    def __getattr__(self, name: str) -> Any: ...
    def __setattr__(self, name: str, value: Any) -> None: ...

def media_type(content_type: str | None) -> str: ...
def refuse(status: int, reason: str, req: Any = None) -> Any: ...
def parse_cookies(header: str | None) -> dict[str, str]: ...

class Request(ParsedRequest):
    """An HTTP request, as handlers see it (an instance of the app's subclass of this class)."""

    max_content_length: int
    max_body_length: int
    max_form_parts: int
    max_file_memory: int
    upload_dir: str | None

    app: App
    method: str
    path: str
    url: str
    target: str
    query_string: str
    http_version: str
    url_args: dict[str, Any] | None
    headers: Headers
    args: MultiDict
    cookies: dict[str, str]
    content_type: str | None
    content_length: int | None
    body: bytes | None
    stream: Any
    json: Any
    form: MultiDict | None
    files: MultiDict
    client_addr: Any
    g: G
    keep_alive: bool
    async def read_form(self, file_sink: Callable[[FileUpload, bytes], Any] | None = None) -> MultiDict | None: ...
    def own(self, obj: _T) -> _T: ...
    def after_request(self, f: Callable[[Request, Any], Any]) -> Callable[[Request, Any], Any]: ...
