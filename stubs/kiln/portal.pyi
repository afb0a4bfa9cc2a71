from typing import Any

from kiln.app import App
from kiln.request import Request

host: str
dns_port: int
linger: int
join_timeout: int
PROBES: tuple[str, ...]

def escape(text: str) -> str: ...
def ap_name() -> str: ...
def valid_hostname(name: str) -> bool: ...

class Portal:
    """The set-up app (`self.app`) for an access point at `ip`, joining through `sta`."""

    app: App
    ip: str
    sta: Any
    name: str
    joined: Any
    done: Any
    port: int
    def __init__(self, ip: str, sta: Any, name: str = "Kiln") -> None: ...
    def networks(self) -> list[Any]: ...
    def form(self, request: Request, error: str | None, status: int = 200, ssid: str = "") -> Any: ...
    async def serve(self, port: int) -> Any: ...

def run(port: int = 80, password: str | None = None) -> Any:
    """Open the access point, serve the set-up page until a network is joined; the station."""
