"""examples/rest_api over real sockets: JSON CRUD with <int:id> converters."""

import http.client
import json
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "examples" / "rest_api"


@pytest.fixture
def api(serve):
    server = serve(APP)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def call(method, path, payload=None, raw=None):
        body = raw if raw is not None else (json.dumps(payload) if payload is not None else None)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        data = res.read()
        is_json = res.getheader("Content-Type") == "application/json"
        return res.status, dict(res.getheaders()), json.loads(data) if is_json else data

    yield call
    conn.close()


def test_crud_cycle_on_one_keep_alive_connection(api):
    assert api("GET", "/api/items")[::2] == (200, [])
    status, headers, item = api("POST", "/api/items", {"name": "lamp", "price": 12.5})
    assert status == 201 and item == {"id": 1, "name": "lamp", "price": 12.5}
    assert headers["Location"] == "/api/items/1"
    api("POST", "/api/items", {"name": "desk", "price": 80})
    assert [i["name"] for i in api("GET", "/api/items")[2]] == ["lamp", "desk"]
    assert api("GET", "/api/items?limit=1")[2] == [item]
    assert api("GET", "/api/items/1")[2] == item
    status, _, changed = api("PATCH", "/api/items/1", {"price": 10})
    assert status == 200 and changed == {"id": 1, "name": "lamp", "price": 10}
    status, _, replaced = api("PUT", "/api/items/2", {"name": "table"})
    assert replaced == {"id": 2, "name": "table", "price": 0}
    assert api("DELETE", "/api/items/1")[0] == 204
    assert api("GET", "/api/items/1")[0] == 404
    assert [i["id"] for i in api("GET", "/api/items")[2]] == [2]


def test_errors_are_json(api):
    status, _, body = api("GET", "/api/items/99")
    assert status == 404 and body == {"error": "not found", "path": "/api/items/99"}
    assert api("GET", "/api/items/abc")[0] == 404
    assert api("POST", "/api/items", {"name": ""})[0] == 400
    assert api("POST", "/api/items", {"name": "x", "price": -1})[0] == 400
    assert api("POST", "/api/items", raw="{broken")[0] == 400
    assert api("DELETE", "/api/items")[0] == 405


def test_a_body_too_big_for_a_small_heap_is_refused_not_a_500(serve):
    server = serve(APP, heapsize="64k")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    payload = json.dumps({"name": "x" * 15900})
    conn.request("POST", "/api/items", body=payload, headers={"Content-Type": "application/json"})
    assert conn.getresponse().status == 413
    conn.close()
    assert "MemoryError" not in server.console()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/items")
    assert conn.getresponse().status == 200
    conn.close()
