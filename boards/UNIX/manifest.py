# Unix firmware: asyncio from MicroPython's tree, Kiln, and kiln.testing for apps' tests.
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")
module("kiln/testing.py", base_path="../../modules")
# kiln.fwota, tested against a file-backed stand-in of esp32.Partition (tests/standins/).
module("kiln/fwota.py", base_path="../../modules")
