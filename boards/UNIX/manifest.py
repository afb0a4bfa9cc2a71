# Unix firmware: asyncio from MicroPython's tree, what the ESP boards carry for apps from
# micropython-lib (the v1.25.0 pin, MPY_LIB_DIR), Kiln, and kiln.testing for apps' tests.
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
require("requests")
require("mip")
require("umqtt.simple")
require("umqtt.robust")
require("logging")
require("aiohttp")
include("../manifest.py")
module("kiln/testing.py", base_path="../../modules")
# kiln.fwota, tested against a file-backed stand-in of esp32.Partition (tests/standins/).
module("kiln/fwota.py", base_path="../../modules")
