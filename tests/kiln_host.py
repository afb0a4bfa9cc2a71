"""Import kiln.template and kiln.template_compiler on CPython: a bare `kiln` package object whose
path is modules/kiln, so the package's __init__ (which needs the C module _kiln) does not run."""

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_CASES = ROOT / "tests" / "templates"

if "kiln" not in sys.modules:
    package = types.ModuleType("kiln")
    package.__path__ = [str(ROOT / "modules" / "kiln")]
    sys.modules["kiln"] = package

from kiln import template, template_compiler  # noqa: E402

sys.path.insert(0, str(TEMPLATE_CASES))
import cases  # noqa: E402

__all__ = ["template", "template_compiler", "cases", "ROOT", "TEMPLATE_CASES"]
