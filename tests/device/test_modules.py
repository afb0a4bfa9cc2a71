# The firmware carries the C core and the frozen package, at matching versions.
import sys

import _kiln


def test_versions_match():
    import kiln

    assert _kiln.version() == kiln.__version__


def test_kiln_imports_from_the_frozen_path_alone():
    saved = sys.path[:]
    sys.modules.pop("kiln", None)
    sys.path[:] = [".frozen"]
    try:
        import kiln

        assert kiln.__version__
    finally:
        sys.path[:] = saved
