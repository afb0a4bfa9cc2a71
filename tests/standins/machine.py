# A unix stand-in for the device side of MicroPython's `machine` module, put on sys.path by
# tests (the unix port's own `machine` is extensible, so this file takes its place): the board's
# id, and reset(), which on a board restarts it and here ends the process with status 77 (the
# test restarts the firmware, as the chip would boot again). Timer is the one-shot software
# timer kiln.slots arms as its health-check watchdog: nothing preempts a hung unix process, so
# the test plays the watchdog and kills the process at the deadline; the timer records its use
# in machine_log.jsonl.
import json
import os
import sys

# The board's flash: the folder the test booted the firmware in (kiln.slots then runs the app
# in its own slot folder, so a relative path would land there).
_FLASH = os.getenv("KILN_STANDIN_FLASH") or "."


def _record(*event):
    with open(_FLASH + "/machine_log.jsonl", "a") as f:
        f.write(json.dumps(list(event)) + "\n")


def unique_id():
    return b"\x24\x0a\xc4\x12\x34\x56"


def reset():
    _record("reset")
    sys.exit(77)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self.id = id

    def init(self, mode=ONE_SHOT, period=-1, callback=None, **kw):
        _record("timer", "init", period)

    def deinit(self):
        _record("timer", "deinit")
