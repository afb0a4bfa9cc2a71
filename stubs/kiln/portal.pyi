"""Set-up mode: the board opens its own access point, answers every DNS name with its own address
(`kiln.dns`) and serves a set-up page: the networks it sees, SSID, password and hostname, with
CSRF. The probes phones and laptops send when they join a network (`PROBES`), and any other URL,
get a redirect to that page, which is how the OS knows to pop it up. Once a network is joined,
it is saved (`kiln.net.save`), the page shows the board's new address, and after `linger`
seconds the access point closes."""

from typing import Any

from kiln.app import App
from kiln.csrf import CSRF
from kiln.request import Request
from kiln.response import Response

host: str
"""Where the portal listens (HTTP on `run`'s port) and answers DNS (`"0.0.0.0"`)."""
dns_port: int
"""The DNS responder's UDP port (53)."""
linger: int
"""Seconds the set-up network stays up after a successful join (10)."""
join_timeout: int
"""Seconds to wait for the chosen network to give an address (15)."""
PROBES: tuple[str, ...]
"""The paths of the connectivity checks of Android, Apple, Windows and Firefox."""

def escape(text: str) -> str:
    """`text` with `& < > "` escaped for HTML."""

def ap_name() -> str:
    """The access point's name: "Kiln-" and the last 3 bytes of the board's id, in hex."""

def valid_hostname(name: str) -> bool:
    """True for 1 to 63 lowercase letters, digits and inner hyphens."""

class Portal:
    """The set-up app (`self.app`) for an access point at `ip`, joining through `sta`."""

    ip: str
    sta: Any
    name: str
    joined: Any
    done: Any
    port: int
    app: App
    csrf: CSRF
    def __init__(self, ip: str, sta: Any, name: str = "Kiln") -> None: ...
    def networks(self) -> list[str]:
        """The names of the networks in range, strongest first."""
    def form(self, request: Request, error: str, status: int = 200, ssid: str = "") -> Response:
        """The set-up page, with `error` above the form."""
    async def serve(self, port: int) -> None:
        """Serve the page and the DNS responder until a network is joined and `linger` passed."""

def run(port: int = 80, password: str | None = None) -> Any:
    """Open the access point (WPA2 with `password`, else open), serve the set-up page until a
    network is joined; close the access point and return the station interface."""
