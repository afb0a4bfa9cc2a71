# Views and hooks that raise, with and without sys.exc_info: the ESP ports build without it
# (MICROPY_PY_SYS_EXC_INFO), and kiln.app then catches through a `with` guard instead.
import sys


def fresh_kiln(without_exc_info):
    """Import kiln anew, optionally with a `sys` module that lacks exc_info."""
    for name in list(sys.modules):
        if name == "kiln" or name.startswith("kiln."):
            del sys.modules[name]
    real_sys = sys.modules.get("sys", sys)
    if without_exc_info:

        class NoExcInfo:
            print_exception = staticmethod(sys.print_exception)
            path = sys.path
            modules = sys.modules

        sys.modules["sys"] = NoExcInfo
    try:
        import kiln.app
        import kiln.testing

        return kiln.app, kiln.testing.TestClient
    finally:
        if without_exc_info:
            if real_sys is sys:
                del sys.modules["sys"]
            else:
                sys.modules["sys"] = real_sys


def check_errors(without_exc_info):
    app_module, TestClient = fresh_kiln(without_exc_info)
    assert (app_module._exc_info is None) == without_exc_info
    app = app_module.App()
    seen = []

    @app.errorhandler(KeyError)
    def key_error(request, exc):
        seen.append(exc.args[0])
        return "missing " + exc.args[0], 404

    @app.get("/key/<name>")
    def key(request, name):
        raise KeyError(name)

    @app.get("/boom")
    def boom(request):
        raise RuntimeError("boom")

    @app.get("/ok")
    def ok(request):
        return "ok"

    c = TestClient(app)
    for _ in range(2):
        res = c.get("/key/abc")
        assert res.status_code == 404 and res.text == "missing abc", (res.status_code, res.body)
        assert c.get("/boom").status_code == 500
        assert c.get("/ok").text == "ok"
    assert seen == ["abc", "abc"]

    @app.before_request
    def before(request):
        if request.path == "/ok":
            raise KeyError("hook")

    @app.after_request
    def after(request, response):
        if request.path == "/key/after":
            raise KeyError("after")
        return response

    res = c.get("/ok")
    assert res.status_code == 404 and res.text == "missing hook", res.body
    assert c.get("/key/x").text == "missing x"


def test_errors_with_sys_exc_info():
    check_errors(False)


def test_errors_without_sys_exc_info():
    check_errors(True)
