"""Porting check: a Microdot 2.x app runs on Kiln with only its imports changed.

tests/apps/app_microdot/main.py is served on Kiln; the same file with Microdot's imports is
served by Microdot 2.7.0 on the same firmware (tools/fetch_microdot.py; skipped when pip cannot
get it), and both must answer alike."""

import http.client
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import fetch_microdot  # noqa: E402

APP = Path(__file__).resolve().parent / "apps" / "app_microdot"
KILN_IMPORT = "from kiln import App as Microdot, Response, abort, redirect  # noqa: I001"
MICRODOT_IMPORT = "from microdot import Microdot, Response, abort, redirect"

# (method, path, headers, body)
REQUESTS = [
    ("GET", "/", {}, None),
    ("GET", "/hello/ann", {}, None),
    ("GET", "/echo?x=1&x=2", {}, None),
    ("POST", "/echo", {"Content-Type": "application/json"}, '{"a": [1, 2]}'),
    ("GET", "/files/a/b/c.txt", {}, None),
    ("GET", "/code/AB12", {}, None),
    ("GET", "/code/ab12", {}, None),
    ("GET", "/set-cookie", {}, None),
    ("GET", "/read-cookie", {"Cookie": "theme=light"}, None),
    ("GET", "/read-cookie", {}, None),
    ("GET", "/per-request-hook", {}, None),
    ("GET", "/g", {}, None),
    ("GET", "/tuple", {}, None),
    ("GET", "/go", {}, None),
    ("GET", "/abort", {}, None),
    ("GET", "/value", {}, None),
    ("GET", "/missing", {}, None),
    ("GET", "/", {"X-Banned": "yes"}, None),
    ("GET", "/books/1", {}, None),
    ("GET", "/books/9", {}, None),
    ("GET", "/books/x", {}, None),
    ("POST", "/books/", {"Content-Type": "application/json"}, '{"title": "Ulysses"}'),
    ("GET", "/books/3", {}, None),
]
HEADERS = ("x-app", "x-once", "x-custom", "location")


def call(server, method, path, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        data = res.read()
        got = {k.lower(): v for k, v in res.getheaders()}
    finally:
        conn.close()
    try:
        data = json.loads(data)
    except ValueError:
        data = data.decode()
    cookie = got.get("set-cookie", "")
    return (res.status, data, {h: got.get(h) for h in HEADERS},
            sorted(p.strip().lower() for p in cookie.split(";")) if cookie else None)


def answers(server):
    return [call(server, *r) for r in REQUESTS]


def test_microdot_app_runs_on_kiln(serve):
    server = serve(APP)
    got = {}
    for r, answer in zip(REQUESTS, answers(server), strict=True):
        got.setdefault(r[:2], answer)
    assert got[("GET", "/")] == (200, "index page", {"x-app": "port", "x-once": None, "x-custom": None,
                                                     "location": None}, None)
    assert got[("GET", "/hello/ann")][1] == "Hello, ann!"
    assert got[("POST", "/echo")][1] == {"method": "POST", "args": [], "json": {"a": [1, 2]}}
    assert got[("GET", "/echo?x=1&x=2")][1]["args"] == ["1", "2"]
    assert got[("GET", "/files/a/b/c.txt")][1] == {"path": "a/b/c.txt"}
    assert got[("GET", "/code/ab12")][0] == 404
    assert got[("GET", "/set-cookie")][3] == ["httponly", "theme=dark"]
    assert got[("GET", "/per-request-hook")][2]["x-once"] == "1"
    assert got[("GET", "/tuple")][:2] == (201, "created")
    assert got[("GET", "/go")][0] == 302 and got[("GET", "/go")][2]["location"] == "/"
    assert got[("GET", "/value")][:2] == (400, {"error": "bad value: nope"})
    assert got[("GET", "/books/3")][1] == {"id": 3, "title": "Ulysses"}


def test_same_answers_as_microdot(serve, tmp_path):
    try:
        package = fetch_microdot.folder() / "microdot"
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip("Microdot %s is not available: %s" % (fetch_microdot.VERSION, e))
    app_dir = tmp_path / "microdot_app"
    app_dir.mkdir()
    shutil.copytree(package, app_dir / "microdot")
    source = (APP / "main.py").read_text()
    assert KILN_IMPORT in source
    (app_dir / "main.py").write_text(source.replace(KILN_IMPORT, MICRODOT_IMPORT))
    on_microdot = answers(serve(app_dir))
    on_kiln = answers(serve(APP))
    for request, theirs, ours in zip(REQUESTS, on_microdot, on_kiln, strict=True):
        assert ours == theirs, "%s %s: Microdot %r, Kiln %r" % (request[0], request[1], theirs, ours)
