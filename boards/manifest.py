# Kiln, frozen into every board: each board's manifest.py includes this file.
metadata(description="Kiln: a small, fast web framework for MicroPython", version="0.1.0")

package("kiln", base_path="../modules")
