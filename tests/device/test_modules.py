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


def test_the_package_answers_hasattr_and_dir():
    # issue 11: an unknown name raised ImportError, so hasattr() and dir() raised too
    import kiln

    assert not hasattr(kiln, "nope")
    assert hasattr(kiln, "App") and hasattr(kiln, "server")
    names = dir(kiln)
    assert "App" in names and "send_file" in names, names
    try:
        value = kiln.nope
    except AttributeError:
        pass
    else:
        raise AssertionError("kiln.nope gave %r" % (value,))
    from kiln import static  # a submodule not imported yet still comes on first use

    assert static.send_file is kiln.send_file

