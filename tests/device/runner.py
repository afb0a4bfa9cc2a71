# Runs the test_* functions of one module inside the firmware and prints PASS/FAIL lines that
# tests/conftest.py reads. Each test function takes no argument and raises on failure; a module's
# teardown_module(), if it has one, runs after them (removes what the tests left behind).
import sys


def main(module_name):
    module = __import__(module_name)
    names = sorted(n for n in dir(module) if n.startswith("test_"))
    failed = 0
    for name in names:
        try:
            getattr(module, name)()
            print("PASS", name)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next test runs
            failed += 1
            print("FAIL %s: %r" % (name, e))
            sys.print_exception(e)
    if hasattr(module, "teardown_module"):
        module.teardown_module()
    print("%d passed, %d failed" % (len(names) - failed, failed))
