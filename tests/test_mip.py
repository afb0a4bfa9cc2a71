"""`mip.install` of Kiln onto stock MicroPython: package.json lists every module of `kiln` and
the pure-Python `_kiln`; a plain unix MicroPython built from the same pinned tree without Kiln
(`make unix-stock`, KILN_STOCK_FIRMWARE overrides) installs it with its own frozen `mip` from a
local HTTP file server on 127.0.0.1 serving this repository, then serves an example over a real
socket with the fallback. (`mip.install("github:<owner>/kiln")` fetches the same package.json and
paths from raw.githubusercontent.com; that rewrite is mip's own and needs GitHub.)"""

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import FIRMWARE, ROOT, free_port

STOCK = Path(os.environ.get("KILN_STOCK_FIRMWARE", ROOT / "build" / "unix-stock" / "micropython"))
PACKAGE = json.loads((ROOT / "package.json").read_text())


def test_package_json_lists_every_module():
    want = sorted("kiln/" + p.name for p in (ROOT / "modules" / "kiln").glob("*.py"))
    want += ["_kiln.py", "_kiln_http.py", "_kiln_loop.py", "_kiln_route.py", "_kiln_ws.py"]
    assert sorted(dest for dest, _ in PACKAGE["urls"]) == sorted(want)
    for dest, src in PACKAGE["urls"]:
        assert (ROOT / src).is_file() and src.endswith(dest)


def test_package_version_is_kiln_version():
    init = (ROOT / "modules" / "kiln" / "__init__.py").read_text()
    assert '__version__ = "%s"' % PACKAGE["version"] in init
    assert 'version="%s"' % PACKAGE["version"] in (ROOT / "boards" / "manifest.py").read_text()


@pytest.fixture(scope="module")
def file_server():
    """This repository over HTTP on 127.0.0.1 (what raw.githubusercontent.com serves for a tag)."""
    handler = functools.partial(QuietHandler, directory=str(ROOT))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        QuietHandler.requested.append(self.path)
        super().do_GET()


def stock(code, cwd=None, timeout=60):
    assert STOCK.exists(), "no stock MicroPython at %s: run `make unix-stock`" % STOCK
    return subprocess.run([str(STOCK), "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(file_server, tmp_path_factory):
    lib = tmp_path_factory.mktemp("device") / "lib"
    r = stock("import mip; mip.install(%r, target=%r)" % (file_server + "/package.json", str(lib)))
    assert r.returncode == 0 and "Done" in r.stdout, r.stdout + r.stderr
    return lib


def test_stock_micropython_has_no_c_module():
    r = stock("import sys\ntry:\n import _kiln\n print(_kiln.__file__)\nexcept ImportError:\n print('absent')")
    assert r.stdout.strip() == "absent", r.stdout + r.stderr


def test_mip_installs_every_file(installed):
    for dest, src in PACKAGE["urls"]:
        assert (installed / dest).read_bytes() == (ROOT / src).read_bytes(), dest


def test_the_fallback_is_used_on_stock_and_the_c_module_on_kiln(installed):
    code = "import sys; sys.path.insert(0, %r); import _kiln; print(getattr(_kiln, '__file__', 'built-in'))"
    r = stock(code % str(installed))
    assert r.stdout.strip() == str(installed / "_kiln.py"), r.stdout + r.stderr
    r = subprocess.run([str(FIRMWARE), "-c", code % str(installed)], capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "built-in", r.stdout + r.stderr


def get(url):
    with urllib.request.urlopen(url, timeout=5) as res:
        return res.status, res.headers, res.read()


@pytest.mark.parametrize("example", ["hello", "rest_api"])
def test_an_installed_kiln_serves_an_example(installed, example, tmp_path):
    app = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, app)
    port = free_port()
    log = open(tmp_path / "console.log", "w")
    code = ("import sys; sys.path.insert(0, %r); sys.path.insert(0, '.'); import main; "
            "main.app.run(host='127.0.0.1', port=%d)" % (str(installed), port))
    proc = subprocess.Popen([str(STOCK), "-c", code], cwd=app, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "console.log").read_text()) from None
                time.sleep(0.05)
        base = "http://127.0.0.1:%d" % port
        if example == "hello":
            status, headers, body = get(base + "/")
            assert status == 200 and body == b"Hello, world!"
        else:
            req = urllib.request.Request(base + "/api/items", data=b'{"name": "lamp", "price": 3}',
                                         headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=5) as res:
                assert res.status == 201 and res.headers["Location"] == "/api/items/1"
            status, headers, body = get(base + "/api/items")
            assert json.loads(body) == [{"id": 1, "name": "lamp", "price": 3}]
            assert headers["Content-Type"] == "application/json"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(5)
        log.close()
