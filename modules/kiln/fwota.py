# Firmware OTA on ESP32 boards (POST /ota/firmware, see kiln.ota): the image streams into the
# next OTA partition (esp32.Partition.get_next_update(): ota_1 while ota_0 runs, and back), one
# 4 KB flash block at a time. Its length and sha256 must match what the upload's MAC covers;
# the partition is then read back and hashed again, and only then is it made the boot partition
# (set_boot). The new firmware runs as "pending verify": kiln.slots confirms it
# (mark_app_valid_cancel_rollback) once Kiln serves; if it never does, the bootloader goes back
# to the old one at the next reset (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE in boards/sdkconfig.kiln).
# Frozen only on ESP32 boards (boards/esp32_manifest.py) and the unix firmware.
import binascii
import hashlib

from esp32 import Partition

from kiln.ota import Body, Refused, _step, authorize, max_firmware


def _hex(sha):
    return binascii.hexlify(sha.digest()).decode()


async def receive(request, st):
    """Stream a firmware image into the next OTA partition, verify it, set it to boot."""
    part = Partition(Partition.RUNNING).get_next_update()
    bs = part.ioctl(5, 0)
    size = part.ioctl(4, 0) * bs
    digest, length = authorize(request, "firmware", min(max_firmware, size))
    label = part.info()[4]
    body = Body(request, length)
    buf = bytearray(bs)
    mv = memoryview(buf)
    block = 0
    _step("staging")
    while body.left:
        n = 0
        while n < bs and body.left:
            chunk = await body.read(min(bs - n, 1024))
            mv[n:n + len(chunk)] = chunk
            n += len(chunk)
        for i in range(n, bs):
            buf[i] = 0xFF  # erased flash
        part.writeblocks(block, buf)  # erases the block, then writes it
        block += 1
    _step("written")
    got = _hex(body.sha)
    if got != digest:
        raise Refused(400, "sha256 mismatch: the upload is %s, its MAC covers %s" % (got, digest))
    sha = hashlib.sha256()
    left = length
    for b in range(block):
        part.readblocks(b, buf)
        sha.update(mv[:min(left, bs)])
        left -= bs
    if _hex(sha) != digest:
        raise Refused(500, "%s read back differs from the upload: not switching" % label)
    _step("verified")
    try:
        part.set_boot()
    except OSError as e:
        raise Refused(400, "%s does not hold a valid image: %s" % (label, e)) from None
    _step("swapped")
    return 200, {"partition": label, "bytes": length, "sha256": digest, "restarting": True}
