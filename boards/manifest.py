# Kiln, frozen into every board: each board's manifest.py includes this file.
metadata(description="Kiln: a small, fast web framework for MicroPython", version="0.1.0")

package("kiln", base_path="../modules")

# Templates compiled at build time and frozen as kiln_templates: the folder named by the
# environment variable KILN_TEMPLATES (the Makefile's templates section sets it), see
# tools/templates_manifest.py, which a board's own manifest can include instead.
import os  # noqa: E402

if os.environ.get("KILN_TEMPLATES"):
    include("../tools/templates_manifest.py", folder=os.environ["KILN_TEMPLATES"])
