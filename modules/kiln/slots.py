# The app slots and the boot that picks one: a board updated over the air keeps two app folders,
# app_a/ and app_b/ (each a main.py defining `app`, its templates/ and static/), and the file
# ota.json that names the current one, the previous one and whether the current one is on
# trial. kiln.ota writes a new app into the other slot and switches by replacing ota.json (a
# temporary file, then a rename: a power cut leaves the old state or the new one).
#
# At boot (`run`), an app on trial must import and start serving within `health_seconds`:
# ota.json records the attempt before the import, and a one-shot timer resets the board at the
# deadline. An app that raises at import is rolled back at once; one that hangs, or a board
# that loses power or crashes before the app serves, finds the attempt recorded at the next boot
# and is rolled back then. The reason is kept in ota.json and shown at /ota/status. Once serving,
# the app is confirmed, and so is a new firmware on an ESP32 (mark_app_valid_cancel_rollback).
#
# A device's main.py is these two lines:
#     import kiln.slots
#     kiln.slots.run()
import json
import os
import sys

from kiln.net import read_json, write_atomic

#: The file naming the current and previous slots.
state_path = "ota.json"
#: The folder holding ota.json and the slots; run() makes it the absolute current folder, since
#: the app then runs in its own slot (its templates/, static/ and files are relative to it).
root = ""
#: Seconds a new app has to import and start serving.
health_seconds = 30

SLOTS = ("a", "b")


def name(slot):
    return "app_" + slot


def folder(slot):
    return root + name(slot)


def load():
    """The state in ota.json; without one, slot "a" is current."""
    st = read_json(root + state_path)
    if type(st) is dict and st.get("current") in SLOTS:
        return st
    return {"current": "a", "previous": None, "trial": False, "booted": 0, "reason": None}


def save(st):
    write_atomic(root + state_path, json.dumps(st))


def other(slot):
    return "b" if slot == "a" else "a"


def rollback(st, reason):
    """Make the previous slot current again, keeping ``reason``; False without one."""
    print("kiln.slots: " + reason)
    prev = st.get("previous")
    st["reason"] = reason
    st["trial"] = False
    st["booted"] = 0
    if prev in SLOTS:
        st["current"], st["previous"] = prev, None
        st["sha256"], st["previous_sha256"] = st.get("previous_sha256"), None
        st["reason"] = reason + "; rolled back to " + name(prev)
    save(st)
    return prev in SLOTS


def choose():
    """The state to boot with: a trial that did not confirm at the last boot is rolled back,
    a new trial is recorded (``booted``) before its app is imported."""
    st = load()
    if st.get("trial"):
        if st.get("booted"):
            rollback(st, "%s did not start serving within %d s (it hung, crashed or lost power)"
                     % (name(st["current"]), health_seconds))
        else:
            st["booted"] = 1
            save(st)
    return st


def _reset():
    import machine

    machine.reset()


def arm(seconds):
    """Reset the board in ``seconds`` unless the returned timer is stopped first (``confirm``
    does). A software timer: its callback runs between bytecodes, so a Python loop that never
    returns is caught."""
    import machine

    timer = machine.Timer(0 if sys.platform == "esp32" else -1)
    timer.init(mode=machine.Timer.ONE_SHOT, period=seconds * 1000, callback=lambda t: _reset())
    return timer


def load_app(st):
    """Import the current slot's main.py and return its ``app``; on trial, an import error rolls
    back and resets. None when there is no app (kiln.ota still serves, to receive one)."""
    path = folder(st["current"])
    try:
        os.stat(path + "/main.py")
    except OSError:
        if st.get("trial"):
            rollback(st, "%s has no main.py" % name(st["current"]))
            _reset()
        print("kiln.slots: no app in %s/ yet: upload one with `make ota`" % name(st["current"]))
        return None
    sys.path.insert(0, path)
    os.chdir(path)
    try:
        import main

        return main.app
    except Exception as e:  # noqa: BLE001 - any error of the app's import is a failed health check
        sys.print_exception(e)
        reason = "%s failed at import: %s: %s" % (name(st["current"]), type(e).__name__, e)
        if st.get("trial"):
            rollback(st, reason)
            _reset()
        st["reason"] = reason
        return None


def confirm(st, timer):
    """The app serves: end its trial and confirm the running firmware."""
    if timer is not None:
        timer.deinit()
    if st.get("trial"):
        st["trial"] = False
        st["booted"] = 0
        st["reason"] = "%s confirmed: it imported and started serving" % name(st["current"])
        save(st)
    try:
        from esp32 import Partition
    except ImportError:
        return
    Partition.mark_app_valid_cancel_rollback()


def run(port=80, host="0.0.0.0", network=True, ap_password=None, **config):
    """Boot: bring the network up (kiln.net: the saved network or the set-up portal, a WPA2
    one with ``ap_password``), then serve the current slot's app under the health check, with
    kiln.ota's endpoints under /ota/; ``config`` goes to the server (``kiln.server``)."""
    import asyncio

    from kiln import net, ota

    global root
    root = os.getcwd().rstrip("/") + "/"
    if not net.config_path.startswith("/"):
        net.config_path = root + net.config_path
    if network:
        net.up(port, ap_password=ap_password)
    st = choose()
    timer = arm(health_seconds) if st.get("trial") else None
    app = load_app(st)

    handler, config = ota.handler(app, st, config)

    async def main():
        from kiln import server

        srv = await server.start_server(handler, host, port, **config)
        confirm(st, timer)
        print("Kiln: %s serving on port %d" % (name(st["current"]) if app else "no app,", port))
        await srv.wait_closed()

    asyncio.run(main())
