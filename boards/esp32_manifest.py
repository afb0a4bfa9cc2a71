# Shared by Kiln's ESP32 boards: the port's own frozen modules (which bring asyncio), plus Kiln.
include("$(PORT_DIR)/boards/manifest.py")
include("manifest.py")
# Firmware OTA (esp32.Partition): on ESP32 boards only.
module("kiln/fwota.py", base_path="../modules")
