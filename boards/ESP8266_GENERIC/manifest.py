# The port's own frozen modules, asyncio, and Kiln.
include("$(PORT_DIR)/boards/manifest.py")
include("$(MPY_DIR)/extmod/asyncio")
include("../manifest.py")
