# send_file and static folders: types, validators, ranges, .gz variants, index, path escapes.
import os

from kiln import App, send_file
from kiln.testing import TestClient

ROOT = "/tmp/kiln-static-test-%d" % os.getpid() if hasattr(os, "getpid") else "/tmp/kiln-static-test"
DATA = b"0123456789" * 10


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def setup():
    for d in (ROOT, ROOT + "/sub", ROOT + "/only"):
        try:
            os.mkdir(d)
        except OSError:
            pass
    write(ROOT + "/data.txt", DATA)
    write(ROOT + "/page.html", b"<p>plain</p>")
    write(ROOT + "/page.html.gz", b"GZ-BYTES")
    write(ROOT + "/sub/index.html", b"<h1>sub</h1>")
    write(ROOT + "/only/app.js.gz", b"GZ-ONLY")
    write(ROOT + "/x.unknownext", b"?")
    app = App()
    app.static("/s", ROOT, max_age=60)

    @app.get("/dl")
    def dl(request):
        return send_file(ROOT + "/data.txt", content_type="application/x-test")

    return TestClient(app)


def test_types_cache_control_length():
    c = setup()
    res = c.get("/s/data.txt")
    assert res.status_code == 200 and res.body == DATA
    assert res.headers["Content-Type"].startswith("text/plain")
    assert res.headers["Cache-Control"] == "max-age=60"
    assert res.headers["Content-Length"] == str(len(DATA))
    assert res.headers["Accept-Ranges"] == "bytes"
    assert c.get("/s/x.unknownext").headers["Content-Type"] == "application/octet-stream"
    res = c.get("/dl")
    assert res.headers["Content-Type"] == "application/x-test" and res.body == DATA
    assert c.head("/s/data.txt").body == b""


def test_etag_and_last_modified_give_304():
    c = setup()
    res = c.get("/s/data.txt")
    tag = res.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    res2 = c.get("/s/data.txt", headers={"If-None-Match": tag})
    assert res2.status_code == 304 and res2.body == b"", res2.status_code
    assert res2.headers["ETag"] == tag
    assert c.get("/s/data.txt", headers={"If-None-Match": '"other", ' + tag}).status_code == 304
    assert c.get("/s/data.txt", headers={"If-None-Match": '"other"'}).status_code == 200
    assert c.get("/s/data.txt", headers={"If-None-Match": "W/" + tag}).status_code == 304
    assert c.get("/s/data.txt", headers={"If-None-Match": tag[:-1] + '-gz"'}).status_code == 200
    modified = res.headers["Last-Modified"]
    assert modified.endswith(" GMT")
    assert c.get("/s/data.txt", headers={"If-Modified-Since": modified}).status_code == 304


def test_single_range_206_and_416():
    c = setup()
    res = c.get("/s/data.txt", headers={"Range": "bytes=10-19"})
    assert res.status_code == 206 and res.body == DATA[10:20], (res.status_code, res.body)
    assert res.headers["Content-Range"] == "bytes 10-19/100"
    assert res.headers["Content-Length"] == "10"
    assert c.get("/s/data.txt", headers={"Range": "bytes=95-"}).body == DATA[95:]
    assert c.get("/s/data.txt", headers={"Range": "bytes=-3"}).body == DATA[-3:]
    assert c.get("/s/data.txt", headers={"Range": "bytes=90-500"}).body == DATA[90:]
    res = c.get("/s/data.txt", headers={"Range": "bytes=100-"})
    assert res.status_code == 416 and res.headers["Content-Range"] == "bytes */100"
    # several ranges and nonsense are ignored: the whole file
    assert c.get("/s/data.txt", headers={"Range": "bytes=0-1,5-6"}).status_code == 200
    assert c.get("/s/data.txt", headers={"Range": "lines=1-2"}).status_code == 200
    assert c.get("/s/data.txt", headers={"Range": "bytes=0-1", "If-Range": '"stale"'}).status_code == 200


def test_precompressed_variant():
    c = setup()
    res = c.get("/s/page.html", headers={"Accept-Encoding": "gzip, deflate"})
    assert res.body == b"GZ-BYTES" and res.headers["Content-Encoding"] == "gzip"
    assert res.headers["Content-Type"].startswith("text/html")
    assert res.headers["Vary"] == "Accept-Encoding"
    gz_tag = res.headers["ETag"]
    res = c.get("/s/page.html")
    assert res.body == b"<p>plain</p>" and "Content-Encoding" not in res.headers
    assert res.headers["ETag"] != gz_tag
    res = c.get("/s/only/app.js", headers={"Accept-Encoding": "gzip"})
    assert res.body == b"GZ-ONLY" and res.headers["Content-Type"] == "text/javascript"


def test_directory_index_and_redirect():
    c = setup()
    res = c.get("/s/sub")
    # 308 like a route's trailing-slash redirect (was 301)
    assert res.status_code == 308 and res.headers["Location"] == "/s/sub/"
    res = c.get("/s/sub/")
    assert res.status_code == 200 and res.body == b"<h1>sub</h1>"
    assert c.get("/s/missing.txt").status_code == 404


def test_path_escapes_refused():
    c = setup()
    for path in ("/s/../etc/passwd", "/s/%2e%2e/%2e%2e/etc/passwd", "/s/sub/../../x", "/s//etc/passwd",
                 "/s/sub/%2E%2E/data.txt", "/s/..%2fdata.txt", "/s/./data.txt"):
        res = c.get(path)
        assert res.status_code in (400, 404), (path, res.status_code)
        assert DATA not in res.body
    for path in ("/s/data.txt%00.html", "/s/..%5cdata.txt"):
        res = c.get(path)
        assert res.status_code in (400, 404), (path, res.status_code)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_a_file_response_whose_hook_fails_leaves_no_file_open():
    setup()
    app = App()

    @app.get("/dl")
    def dl(request):
        @request.after_request
        def fail(request, response):
            raise ValueError("a hook fails after send_file")

        return send_file(ROOT + "/data.txt")

    c = TestClient(app)
    before = open_fds()
    for _ in range(20):
        assert c.get("/dl").status_code == 500
    assert open_fds() == before


def test_a_file_an_after_hook_returns_is_prepared():
    setup()
    app = App()

    @app.get("/swap")
    def swap(request):
        return "replaced by the hook"

    @app.after_request
    def to_file(request, response):
        return send_file(ROOT + "/data.txt")

    res = TestClient(app).get("/swap", headers={"Range": "bytes=10-19"})
    assert res.status_code == 206 and res.body == DATA[10:20], (res.status_code, res.body)


def test_a_missing_static_file_and_a_missing_send_file_answer_alike():
    # both are the app's 404: the same status and body, its 404 handler when it has one
    setup()
    for custom in (False, True):
        app = App()
        app.static("/s", ROOT)

        @app.get("/dl")
        def dl(request):
            return send_file(ROOT + "/missing.txt")

        if custom:
            @app.errorhandler(404)
            def not_found(request):
                return "no such page", 404

        c = TestClient(app)
        a = c.get("/s/missing.txt")
        b = c.get("/dl")
        assert (a.status_code, a.body) == (b.status_code, b.body), (a.body, b.body)
        assert a.status_code == 404 and a.body == (b"no such page" if custom else b"Not Found")
        assert a.headers["Content-Type"] == b.headers["Content-Type"]


def test_a_missing_path_takes_no_cache_entry_and_a_new_file_there_is_served_at_once():
    from kiln import static

    c = setup()
    assert c.get("/s/data.txt").status_code == 200
    for i in range(static.CACHE_SIZE + 4):  # a scanner's guesses
        assert c.get("/s/guess%d.txt" % i).status_code == 404
    assert ROOT + "/data.txt" in static._cache
    assert not [p for p in static._cache if "guess" in p]
    assert c.get("/s/late.txt").status_code == 404
    write(ROOT + "/late.txt", b"late")
    try:
        assert c.get("/s/late.txt").body == b"late"
    finally:
        os.remove(ROOT + "/late.txt")
