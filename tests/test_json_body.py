"""A view's dict or list goes out as JSON written by the C loop (kiln_json.c): byte for byte what
the firmware's own json.dumps writes, for every kind of value a view may return."""

import http.client

import pytest
from conftest import DEVICE_FIRMWARE, RunningServer

APP = r'''
import json
from collections import OrderedDict
from kiln import App

app = App()


class Sub(dict):
    pass


class Text(str):
    pass


deep = [1]
for _ in range(30):
    deep = {"d": [deep, "x"]}

VALUES = [
    {"id": 42, "name": "item 42", "price": 63.0},
    {},
    [],
    [[], {}, [[]]],
    {"quote": 'say "hi"', "back": "a\\b", "nl": "a\nb", "cr": "\r", "tab": "\t", "ctl": "\x01\x1f", "del": "\x7f"},
    {"caf\u00e9": "\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \u2603 \U0001f600", "": ""},
    [0, -1, 2**30, -(2**30) - 1, 2**62, 10**40, -(10**40)],
    [1.5, -0.0, 1e100, 1e-7, 3.141592653589793, float("inf"), float("nan")],
    [True, False, None],
    [(1, "two", (3, [4]))],
    {1: "int key", 2.5: "float key", None: "none key", True: "bool key"},
    [OrderedDict([("b", 1), ("a", [2, {"c": 3}])])],
    {"sub": Sub(a=1), "text": Text("t\"x")},
    [{"time": 1796557005, "temperature": 21.0, "humidity": 63.1}] * 20,
    ["x" * 300, "y\n" * 150],
    deep,
]


@app.get("/value/<int:i>")
def value(request, i):
    return VALUES[i]


@app.get("/dumps/<int:i>")
def dumps(request, i):
    return json.dumps(VALUES[i])


@app.get("/count")
def count(request):
    return str(len(VALUES))
'''


@pytest.fixture(params=["64-bit", "32-bit"])
def server(request, tmp_path):
    if request.param == "32-bit" and not DEVICE_FIRMWARE.exists():
        pytest.skip("no 32-bit device firmware (make unix-device)")
    (tmp_path / "main.py").write_text(APP)
    srv = RunningServer(tmp_path, tmp_path / "console.log",
                        firmware=DEVICE_FIRMWARE if request.param == "32-bit" else None)
    yield srv
    srv.stop()


def get(srv, path):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", path)
    res = conn.getresponse()
    body = res.read()
    conn.close()
    return res.status, res.getheader("Content-Type"), body


def test_json_bodies_are_what_json_dumps_writes(server):
    n = int(get(server, "/count")[2])
    for i in range(n):
        status, content_type, body = get(server, "/value/%d" % i)
        expected = get(server, "/dumps/%d" % i)[2]
        assert status == 200 and content_type == "application/json", (i, status, server.console())
        assert body == expected, i
