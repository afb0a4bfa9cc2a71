# Network bring-up: join the saved WiFi network (a timeout per attempt, a doubling pause between
# attempts), print and keep the URLs the board answers on; with no saved network, or when
# joining fails, open the set-up access point (kiln.portal, imported only then).
#
# The saved network is a JSON file written atomically (a temporary file, then a rename): a power
# cut leaves the old file or the new one, never half of one. The password is never printed and
# no route serves the file.
import json
import os
import sys
import time

#: Where the saved network is kept: {"ssid": ..., "password": ..., "hostname": ...}.
config_path = "wifi.json"
#: Seconds one attempt to join may take.
connect_timeout = 15
#: Attempts before giving up; the pause between them starts at 1 s and doubles.
attempts = 3
#: The URLs the board answers on, once up (``up()`` sets them).
urls = []


def write_atomic(path, data):
    """Write ``data`` to ``path`` through ``path + ".tmp"`` and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def load():
    """The saved network (a dict with "ssid"), or None."""
    try:
        with open(config_path) as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return None
    if type(cfg) is not dict or not cfg.get("ssid"):
        return None
    return cfg


def save(ssid, password="", hostname=None):
    """Save the network to join at the next boot."""
    cfg = {"ssid": ssid, "password": password}
    if hostname:
        cfg["hostname"] = hostname
    write_atomic(config_path, json.dumps(cfg))


def forget():
    """Remove the saved network: the next boot opens the set-up access point."""
    try:
        os.remove(config_path)
    except OSError:
        pass


def _failed(network, status):
    for name in ("STAT_WRONG_PASSWORD", "STAT_NO_AP_FOUND", "STAT_CONNECT_FAIL"):
        if status == getattr(network, name, None):
            return True
    return False


def connect(cfg, tries=None, timeout=None):
    """Join the network ``cfg`` names; the station interface (``network.WLAN``) once it has an
    address, or None after ``tries`` attempts of ``timeout`` seconds."""
    import network

    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    host = cfg.get("hostname")
    if host:
        try:
            network.hostname(host)
        except (AttributeError, OSError, ValueError):
            pass
    tries = tries or attempts
    limit = (timeout or connect_timeout) * 1000
    pause = 1
    for attempt in range(1, tries + 1):
        sta.connect(cfg["ssid"], cfg.get("password", ""))
        start = time.ticks_ms()
        status = sta.status()
        while not sta.isconnected():
            status = sta.status()
            if _failed(network, status) or time.ticks_diff(time.ticks_ms(), start) > limit:
                break
            time.sleep_ms(100)
        if sta.isconnected():
            return sta
        sta.disconnect()
        print("kiln.net: could not join %r (status %s), attempt %d of %d" % (cfg["ssid"], status, attempt, tries))
        if attempt < tries:
            time.sleep(pause)
            pause *= 2
    return None


def addresses(ip, hostname=None, port=80):
    """The URLs a board at ``ip`` answers on: its address, and ``<hostname>.local`` on ports
    whose network stack answers mDNS for ``network.hostname`` (esp32)."""
    suffix = "" if port == 80 else ":%d" % port
    out = ["http://%s%s/" % (ip, suffix)]
    if hostname and sys.platform == "esp32":
        out.append("http://%s.local%s/" % (hostname, suffix))
    return out


def up(port=80, portal=True, ap_password=None):
    """Join the saved network, or set one up through the portal (``portal=True``) until it is
    joined; print and return the URLs (also kept in ``kiln.net.urls``). None when there is no
    network and ``portal`` is False."""
    cfg = load()
    sta = connect(cfg) if cfg is not None else None
    if sta is None:
        if not portal:
            return None
        from kiln import portal as setup

        sta = setup.run(port=port, password=ap_password)
        # set-up is over: let the portal's modules go, their heap is the app's now
        sys.modules.pop("kiln.portal", None)
        sys.modules.pop("kiln.dns", None)
        cfg = load()
    urls[:] = addresses(sta.ifconfig()[0], cfg.get("hostname"), port)
    for url in urls:
        print("Kiln: serving on", url)
    return urls
