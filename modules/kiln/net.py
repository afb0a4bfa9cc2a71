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
    """Write ``data`` to ``path`` through ``path + ".tmp"`` and a rename (``read_json`` reads
    it back, also after a power cut in the middle of a rename on FAT)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def read_json(path):
    """What ``write_atomic`` last wrote to ``path`` (parsed JSON), or None. FAT (the ESP32
    boards' filesystem) renames over a file by removing it first: found without ``path``, the
    temporary file is complete and is the one to read."""
    for name in (path, path + ".tmp"):
        try:
            with open(name) as f:
                return json.load(f)
        except OSError:
            continue
        except ValueError:
            return None
    return None


def load():
    """The saved network (a dict with "ssid"), or None."""
    cfg = read_json(config_path)
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

    host = cfg.get("hostname")
    if host:  # before the interface comes up, so DHCP (and mDNS on esp32) use it
        try:
            network.hostname(host)
        except (AttributeError, OSError, ValueError):
            pass
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
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
        # set-up is over: let the portal's modules go (from sys.modules and from the package,
        # which keeps each imported submodule), their heap is the app's now
        import kiln

        for name in ("portal", "dns"):
            sys.modules.pop("kiln." + name, None)
            kiln.__dict__.pop(name, None)
        cfg = load()
    urls[:] = addresses(sta.ifconfig()[0], (cfg or {}).get("hostname"), port)
    for url in urls:
        print("Kiln: serving on", url)
    return urls
