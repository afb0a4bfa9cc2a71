"""examples/static_site over real sockets: precompressed assets, validators, index pages."""

import gzip
import http.client
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "examples" / "static_site"
STATIC = APP / "static"


def get(server, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


@pytest.mark.parametrize("asset", ["css/site.css", "js/app.js"])
def test_precompressed_assets_match_their_sources(asset):
    assert gzip.decompress((STATIC / (asset + ".gz")).read_bytes()) == (STATIC / asset).read_bytes()


def test_pages_assets_gzip_and_revalidation(serve):
    server = serve(APP)
    status, headers, body = get(server, "/")
    assert status == 200 and body == (STATIC / "index.html").read_bytes()
    assert headers["content-type"] == "text/html; charset=UTF-8" and headers["cache-control"] == "max-age=600"
    status, headers, body = get(server, "/css/site.css", {"Accept-Encoding": "gzip, br"})
    assert headers["content-encoding"] == "gzip" and headers["content-type"] == "text/css"
    assert gzip.decompress(body) == (STATIC / "css" / "site.css").read_bytes()
    assert int(headers["content-length"]) == len(body) < (STATIC / "css" / "site.css").stat().st_size
    assert get(server, "/css/site.css", {"If-None-Match": headers["etag"], "Accept-Encoding": "gzip"})[0] == 304
    status, headers, body = get(server, "/js/app.js")
    assert "content-encoding" not in headers and body == (STATIC / "js" / "app.js").read_bytes()
    assert get(server, "/docs/")[2] == (STATIC / "docs" / "index.html").read_bytes()
    assert get(server, "/docs")[0] in (301, 308)
    assert get(server, "/api/status")[2] == b'{"ok": true}'
    assert get(server, "/nope.html")[0] == 404
    assert get(server, "/../main.py")[0] in (400, 404)
