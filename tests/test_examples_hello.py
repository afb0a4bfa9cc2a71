"""examples/hello: one route, one line of text."""

import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "examples" / "hello"


def test_hello(serve):
    server = serve(APP)
    with urllib.request.urlopen(server.url + "/", timeout=10) as res:
        assert res.status == 200 and res.read() == b"Hello, world!"
        assert res.headers["Content-Type"] == "text/plain; charset=UTF-8"
