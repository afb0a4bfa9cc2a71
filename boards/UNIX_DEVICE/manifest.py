# 32-bit device profile of the unix firmware: asyncio from MicroPython's tree, ssl (as the ESP
# boards carry it) and Kiln.
include("$(MPY_DIR)/extmod/asyncio")
require("ssl")
include("../manifest.py")
