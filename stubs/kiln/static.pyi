from typing import Any

from kiln.response import Response

MIME_TYPES: dict[str, str]
DEFAULT_TYPE: str
CACHE_SIZE: int
VARIANT_RECHECK_MS: int

def guess_type(filename: str) -> str: ...

class FileResponse(Response):
    path: str
    def __init__(
        self,
        path: str,
        status_code: int = 200,
        content_type: str | None = None,
        max_age: int | None = None,
        gzip: bool = True,
        etag: bool = True,
    ) -> None: ...
    @property
    def headers(self) -> Any:
        """The response headers (case-insensitive), made when first asked for."""
    @headers.setter
    def headers(self, value: Any) -> None: ...
    def prepare(self, req: Any) -> Any: ...
    def to_tuple(self) -> tuple[int, Any, Any]: ...

def send_file(
    filename: str,
    status_code: int = 200,
    content_type: str | None = None,
    max_age: int | None = None,
    gzip: bool = True,
    etag: bool = True,
) -> FileResponse:
    """A response that sends the file at `filename` (ETag, Last-Modified, Range, `.gz`)."""

def safe_join(root: str, rel: str, req: Any = None) -> str: ...
def mount_static(
    app: Any, url_prefix: str, root: str, index: str = "index.html", max_age: int | None = None, gzip: bool = True
) -> None: ...
