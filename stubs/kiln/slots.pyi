"""The app slots and the boot that picks one: a board updated over the air keeps two app
folders, `app_a/` and `app_b/` (each a `main.py` defining `app`, its `templates/` and `static/`),
and `ota.json`, which names the current one, the previous one and whether the current one is on
trial. At boot (`run`), an app on trial must import and start serving within `health_seconds`,
or it is rolled back to the previous slot. A device's `main.py` is `import kiln.slots` and
`kiln.slots.run()`."""

from typing import Any

from kiln.app import App

state_path: str
"""The file naming the current and previous slots (`"ota.json"`, in `root`)."""
root: str
"""The folder holding `state_path` and the slots, with a trailing slash: `""` until `run()`
makes it the absolute folder the board booted in (`"/"` on a board), since the app then runs
with its own slot as the current folder."""
health_seconds: int
"""Seconds a new app has to import and start serving (30)."""
SLOTS: tuple[str, str]
"""The slot names, `("a", "b")`."""

def name(slot: str) -> str:
    """The folder name of `slot`: `"app_a"` or `"app_b"`."""

def folder(slot: str) -> str:
    """The path of `slot`'s folder: `root` + `name(slot)`."""

def load() -> dict[str, Any]:
    """The state in ota.json; without one, slot "a" is current."""

def save(st: dict[str, Any]) -> None:
    """Replace ota.json with `st` (one rename)."""

def other(slot: str) -> str:
    """The slot that is not `slot`."""

def rollback(st: dict[str, Any], reason: str) -> bool:
    """Make the previous slot current again, keeping `reason`; False without one."""

def choose() -> dict[str, Any]:
    """The state to boot with: a trial that did not confirm at the last boot is rolled back,
    a new trial is recorded (`booted`) before its app is imported."""

def arm(seconds: int) -> Any:
    """Reset the board in `seconds` unless the returned `machine.Timer` is stopped first
    (`deinit()`, which `confirm` calls)."""

def load_app(st: dict[str, Any]) -> App | None:
    """Import the current slot's main.py and return its `app`; on trial, an import error rolls
    back and resets. None when there is no app (`kiln.ota` still serves, to receive one)."""

def confirm(st: dict[str, Any], timer: Any) -> None:
    """The app serves: end its trial and confirm the running firmware."""

def run(
    port: int = 80, host: str = "0.0.0.0", network: bool = True, ap_password: str | None = None, **config: Any
) -> None:
    """Boot: bring the network up (`kiln.net`: the saved network or the set-up portal, a WPA2
    one with `ap_password`), then serve the current slot's app under the health check, with
    `kiln.ota`'s endpoints under `/ota/`; `config` goes to the server (`kiln.server`)."""
