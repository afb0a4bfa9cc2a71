"""Over-the-air updates: the `/ota/` endpoints `kiln.slots` serves beside the app.

- `GET /ota/status`: what runs, what ran before, why (a rollback's reason), and a nonce.
- `POST /ota/app`: a new app bundle (`tools/ota.py` makes one), into the other app slot.
- `POST /ota/firmware`: a firmware image, into the next OTA partition (ESP32; `kiln.fwota`).

An upload carries `Authorization: Kiln-HMAC-SHA256 <hex>`, the HMAC-SHA256 with the board's key
of `"<kind>\\n<nonce>\\n<sha256 hex>\\n<length>"`, and `X-Kiln-SHA256: <sha256 hex>`. No header:
401; a wrong MAC, or no key in this firmware: 403, before a byte is written. The nonce changes
after every authenticated upload. The app bundle: `b"KILN-APP 1\\n"`, then per file
`b"F <size> <path>\\n"` and its bytes, then `b"E\\n"`; `main.py` must be among the files."""

from typing import Any, Callable

from kiln.app import App
from kiln.request import Request

key: bytes | None
"""The HMAC key; None refuses every upload. Frozen at build time from `KILN_OTA_KEY`."""
max_bundle: int
"""Largest app bundle accepted (bytes, 512 KB)."""
max_firmware: int
"""Largest firmware image accepted (bytes, 4 MB); the partition's size bounds it too."""
max_files: int
"""Most files in a bundle (64)."""
max_path: int
"""Longest path in a bundle (96)."""
reset_delay: float
"""Seconds between answering a successful upload and resetting into it (1)."""
on_step: Callable[[str], Any] | None
"""Called with the name of each step of an update ("staging", "written", "verified", "swapped")."""

def nonce() -> str:
    """The nonce the next upload's MAC must cover (hex); a new one after each upload."""

def mac(k: bytes, kind: str, n: str, digest: str, length: int) -> str:
    """The MAC an upload of `kind` ("app", "firmware") with nonce `n` must carry (hex)."""

class Refused(Exception):
    """An upload refused: `status` (HTTP) and `reason` (the JSON `error`)."""

    status: int
    reason: str
    def __init__(self, status: int, reason: str) -> None: ...

def authorize(request: Request, kind: str, limit: int) -> tuple[str, int]:
    """(sha256 hex, length) of an authenticated upload, or Refused."""

class Body:
    """The request body in chunks, hashed as it is read; Refused(400) if it ends early."""

    request: Request
    left: int
    sha: Any
    memory: bytes | None
    pos: int
    def __init__(self, request: Request, length: int) -> None: ...
    async def read(self, n: int = 512) -> bytes: ...
    async def line(self) -> str: ...

def rmtree(path: str) -> None:
    """Remove the folder `path` and everything in it (nothing when it is absent)."""

async def unpack(body: Body, dest: str) -> list[str]:
    """Write the bundle in `body` into the folder `dest`; the paths written."""

async def receive_app(request: Request, st: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Stream an app bundle into the other slot, verify it, switch to it: (status, dict)."""

def status(st: dict[str, Any]) -> dict[str, Any]:
    """What `GET /ota/status` answers for the slot state `st`."""

def handler(app: App | None, st: dict[str, Any], config: dict[str, Any]) -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """The server handler for `app` (None: only `/ota/`) with the `/ota/` endpoints, and the
    server config that lets their uploads through."""
