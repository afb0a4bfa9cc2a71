# 32-bit device profile of the unix firmware: asyncio from MicroPython's tree, plus Kiln.
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")
