from typing import Any, Callable

from kiln.app import App
from kiln.request import Request

key: bytes | str | None
max_bundle: int
max_firmware: int
max_files: int
max_path: int
reset_delay: int
on_step: Callable[[str], Any] | None

def nonce() -> str: ...
def mac(k: bytes | str, kind: str, n: str, digest: str, length: int) -> str: ...

class Refused(Exception):
    status: int
    reason: str
    def __init__(self, status: int, reason: str) -> None: ...

def authorize(request: Request, kind: str, limit: int) -> tuple[str, int]: ...

class Body:
    """The request body in chunks, hashed as it is read."""

    left: int
    def __init__(self, request: Request, length: int) -> None: ...
    async def read(self, n: int = ...) -> bytes: ...
    async def line(self) -> str: ...

def rmtree(path: str) -> None: ...
async def unpack(body: Body, dest: str) -> list[str]: ...
async def receive_app(request: Request, st: dict[str, Any]) -> tuple[int, dict[str, Any]]: ...
def status(st: dict[str, Any]) -> dict[str, Any]: ...
def handler(app: App | None, st: dict[str, Any], config: dict[str, Any]) -> Callable[[Any], Any]:
    """The server handler for `app` with the /ota/ endpoints."""
