# A unix stand-in for the ESP32 port's esp32.Partition, put on sys.path by tests of ESP32 boards: the OTA app
# partitions are files in the working folder (partition_ota_0.bin, partition_ota_1.bin, each
# `size` bytes of 4 KB blocks) and otadata.json plays the otadata partition: which slot boots,
# which one runs, and whether the running one awaits confirmation ("pending_verify", as
# ESP-IDF's bootloader with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE leaves a new image). The
# test plays the bootloader between runs (tests/test_ota.py: bootloader()). Every call that
# changes flash or otadata is recorded in esp32_log.jsonl.
import json
import os

# The board's flash: the folder the test booted the firmware in (kiln.slots then runs the app
# in its own slot folder, so a relative path would land there).
_FLASH = os.getenv("KILN_STANDIN_FLASH") or "."

_BS = 4096


def _record(*event):
    with open(_FLASH + "/esp32_log.jsonl", "a") as f:
        f.write(json.dumps(list(event)) + "\n")


def _otadata():
    try:
        with open(_FLASH + "/otadata.json") as f:
            return json.load(f)
    except OSError:
        return {"boot": "ota_0", "running": "ota_0", "pending_verify": False, "size": 65536}


def _save(d):
    with open(_FLASH + "/otadata.json", "w") as f:
        f.write(json.dumps(d))


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id):
        d = _otadata()
        if id == Partition.RUNNING:
            id = d["running"]
        elif id == Partition.BOOT:
            id = d["boot"]
        self.label = id
        self.size = d["size"]
        self.path = _FLASH + "/partition_%s.bin" % id

    def info(self):
        offset = 0x10000 if self.label == "ota_0" else 0x10000 + self.size
        return (0, 0x10 + int(self.label[-1]), offset, self.size, self.label, False)

    def get_next_update(self):
        return Partition("ota_1" if self.label == "ota_0" else "ota_0")

    def ioctl(self, op, arg):
        if op == 4:
            return self.size // _BS
        if op == 5:
            return _BS
        if op == 6:
            return 0
        return None

    def _file(self):
        try:
            return open(self.path, "r+b")
        except OSError:
            with open(self.path, "wb") as f:
                f.write(b"\xff" * self.size)
            return open(self.path, "r+b")

    def writeblocks(self, block, buf, offset=None):
        if (block + 1) * _BS > self.size:
            raise OSError(22)
        with self._file() as f:
            f.seek(block * _BS + (offset or 0))
            f.write(buf)
        _record("writeblocks", self.label, block, len(buf))

    def readblocks(self, block, buf, offset=None):
        with self._file() as f:
            f.seek(block * _BS + (offset or 0))
            f.readinto(buf)
        _record("readblocks", self.label, block)

    def set_boot(self):
        d = _otadata()
        d["boot"] = self.label
        _save(d)
        _record("set_boot", self.label)

    @staticmethod
    def mark_app_valid_cancel_rollback():
        d = _otadata()
        d["pending_verify"] = False
        _save(d)
        _record("mark_app_valid_cancel_rollback", d["running"])
