"""Firmware OTA on ESP32 boards (`POST /ota/firmware`, see `kiln.ota`): the image streams into the
next OTA partition (`esp32.Partition.get_next_update()`) one flash block at a time; its length
and sha256 must match what the upload's MAC covers; the partition is read back and hashed again,
and only then made the boot partition (`set_boot`). `kiln.slots` confirms the new firmware once
Kiln serves. Frozen only on ESP32 boards and the unix firmware; importing it elsewhere raises
ImportError (no `esp32` module)."""

from typing import Any

from kiln.request import Request

async def receive(request: Request, st: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Stream a firmware image into the next OTA partition, verify it, set it to boot:
    (200, what was written), or `kiln.ota.Refused`."""
