"""Network bring-up: join the saved WiFi network (a timeout per attempt, a doubling pause between
attempts), print and keep the URLs the board answers on; with no saved network, or when joining
fails, open the set-up access point (`kiln.portal`, imported only then). The saved network is a
JSON file written atomically; the password is never printed and no route serves the file."""

from typing import Any

config_path: str
"""Where the saved network is kept (`"wifi.json"`): {"ssid": ..., "password": ..., "hostname": ...}."""
connect_timeout: int
"""Seconds one attempt to join may take (15)."""
attempts: int
"""Attempts before giving up (3); the pause between them starts at 1 s and doubles."""
urls: list[str]
"""The URLs the board answers on, once up (`up()` sets them)."""

def write_atomic(path: str, data: str) -> None:
    """Write `data` to `path` through `path + ".tmp"` and a rename (`read_json` reads it back,
    also after a power cut in the middle of a rename on FAT)."""

def read_json(path: str) -> Any:
    """What `write_atomic` last wrote to `path` (parsed JSON), or None."""

def load() -> dict[str, Any] | None:
    """The saved network (a dict with "ssid"), or None."""

def save(ssid: str, password: str = "", hostname: str | None = None) -> None:
    """Save the network to join at the next boot."""

def forget() -> None:
    """Remove the saved network: the next boot opens the set-up access point."""

def connect(cfg: dict[str, Any], tries: int | None = None, timeout: float | None = None) -> Any:
    """Join the network `cfg` names; the station interface (`network.WLAN`) once it has an
    address, or None after `tries` attempts of `timeout` seconds."""

def addresses(ip: str, hostname: str | None = None, port: int = 80) -> list[str]:
    """The URLs a board at `ip` answers on: its address, and `<hostname>.local` on esp32 (mDNS)."""

def up(port: int = 80, portal: bool = True, ap_password: str | None = None) -> list[str] | None:
    """Join the saved network, or set one up through the portal (`portal=True`) until it is
    joined; print and return the URLs (also kept in `kiln.net.urls`). None when there is no
    network and `portal` is False."""
