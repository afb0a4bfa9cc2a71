from typing import Any

from kiln.app import App
from kiln.response import NoCaseDict

def read_body(body: Any, length: int | None = None) -> bytes: ...

class TestResponse:
    status_code: int
    headers: NoCaseDict
    body: bytes
    def __init__(self, status_code: int, headers: Any, body: Any) -> None: ...
    @property
    def text(self) -> str: ...
    @property
    def json(self) -> Any: ...
    def getall(self, name: str) -> list[str]: ...

class TestClient:
    """Send requests to an app in-process, through the C parser; cookies are kept."""

    app: App
    cookies: dict[str, str]
    def __init__(
        self, app: App, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> None: ...
    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
        json: Any = None,
        form: Any = None,
    ) -> TestResponse: ...
    def get(self, path: str, headers: dict[str, str] | None = None) -> TestResponse: ...
    def head(self, path: str, headers: dict[str, str] | None = None) -> TestResponse: ...
    def options(self, path: str, headers: dict[str, str] | None = None) -> TestResponse: ...
    def post(
        self, path: str, headers: dict[str, str] | None = None, body: Any = None, json: Any = None, form: Any = None
    ) -> TestResponse: ...
    def put(
        self, path: str, headers: dict[str, str] | None = None, body: Any = None, json: Any = None, form: Any = None
    ) -> TestResponse: ...
    def patch(
        self, path: str, headers: dict[str, str] | None = None, body: Any = None, json: Any = None, form: Any = None
    ) -> TestResponse: ...
    def delete(
        self, path: str, headers: dict[str, str] | None = None, body: Any = None, json: Any = None
    ) -> TestResponse: ...
