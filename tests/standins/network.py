# A unix stand-in for MicroPython's `network` module (the WLAN interface of the esp32 and esp8266
# ports), put on sys.path by tests: it records what the device would do, one JSON line per call,
# in network_log.jsonl in the working folder, and reads the networks in range from
# network_standin.json there: {"networks": [{"ssid":..., "password":..., "rssi":...}],
# "ip": "192.168.1.23"}. Passwords are recorded as "<N chars>", never in clear.
import json
import os

# The board's flash: the folder the test booted the firmware in (kiln.slots then runs the app
# in its own slot folder, so a relative path would land there).
_FLASH = os.getenv("KILN_STANDIN_FLASH") or "."

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_WRONG_PASSWORD = 2
STAT_NO_AP_FOUND = 3
STAT_CONNECT_FAIL = 4
STAT_GOT_IP = 5
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3


def _record(*event):
    with open(_FLASH + "/network_log.jsonl", "a") as f:
        f.write(json.dumps(list(event)) + "\n")


def _world():
    try:
        with open(_FLASH + "/network_standin.json") as f:
            return json.load(f)
    except OSError:
        return {"networks": []}


def hostname(name=None):
    if name is not None:
        _record("hostname", name)
    return "kiln"


class WLAN:
    _state = {}

    def __init__(self, interface=STA_IF):
        self.interface = interface
        self.name = "ap" if interface == AP_IF else "sta"
        self._state.setdefault(self.name, {"active": False, "connected": False, "status": STAT_IDLE})

    def _s(self):
        return self._state[self.name]

    def active(self, on=None):
        if on is None:
            return self._s()["active"]
        self._s()["active"] = bool(on)
        _record(self.name, "active", bool(on))
        return None

    def config(self, **kw):
        if "password" in kw:
            kw["password"] = "<%d chars>" % len(kw["password"])
        _record(self.name, "config", kw)

    def scan(self):
        _record(self.name, "scan")
        return [(n["ssid"].encode(), b"\x00" * 6, 6, n.get("rssi", -60), 3, False)
                for n in _world()["networks"]]

    def connect(self, ssid, password=""):
        _record(self.name, "connect", ssid, "<%d chars>" % len(password))
        s = self._s()
        for n in _world()["networks"]:
            if n["ssid"] == ssid:
                ok = n.get("password", "") == password
                s["connected"] = ok
                s["status"] = STAT_GOT_IP if ok else STAT_WRONG_PASSWORD
                return
        s["connected"] = False
        s["status"] = STAT_NO_AP_FOUND

    def disconnect(self):
        _record(self.name, "disconnect")
        self._s()["connected"] = False
        self._s()["status"] = STAT_IDLE

    def isconnected(self):
        return self._s()["connected"]

    def status(self, *args):
        return self._s()["status"]

    def ifconfig(self):
        if self.interface == AP_IF:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        ip = _world().get("ip", "192.168.1.23") if self._s()["connected"] else "0.0.0.0"
        return (ip, "255.255.255.0", "192.168.1.1", "192.168.1.1")
