# multipart/form-data: the incremental parser fed whole and byte by byte, uploads in memory and
# spooled, custom sinks, and malformed bodies.
import os

from kiln import App, Request
from kiln.multipart import FormParser, spool_dir, with_form_data
from kiln.testing import TestClient

BOUNDARY = "----kilnTEST42"


def body(parts, boundary=BOUNDARY, end=True):
    out = b""
    for name, filename, data in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out += b"Content-Disposition: " + disp.encode() + b"\r\n"
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    if end:
        out += b"--" + boundary.encode() + b"--\r\n"
    return out


PARTS = [("title", None, b"Hello"), ("file", "a.bin", bytes(range(256)) * 4 + b"\r\n--almost"),
         ("tag", None, b"x"), ("tag", None, b"y")]


class Collect:
    def __init__(self, name, filename, ctype, headers):
        self.chunks = []
        self.filename = filename
        self.closed = False

    def write(self, chunk):
        self.chunks.append(bytes(chunk))

    def close(self):
        self.closed = True


def test_parser_whole_and_byte_by_byte():
    data = body(PARTS)
    for step in (len(data), 1, 7, 100):
        p = FormParser(BOUNDARY.encode(), Collect, 10, 1000)
        for i in range(0, len(data), step):
            p.feed(data[i : i + step])
        form, files = p.finish()
        assert form.get("title") == "Hello" and form.getlist("tag") == ["x", "y"], step
        f = files["file"]
        assert f.closed and f.filename == "a.bin"
        assert b"".join(f.chunks) == PARTS[1][2], step


def test_parser_refuses_malformed_bodies():
    good = body(PARTS)
    bad = [
        body(PARTS, end=False),  # no closing boundary
        good.replace(b"Content-Disposition", b"Content-Dispositon"),  # no name
        good.replace(b"\r\n\r\nHello", b"\r\nHello"),  # headers never end
        good[: len(good) // 2],  # truncated
        b"--" + BOUNDARY.encode() + b"XX",  # garbage after the boundary
    ]
    for i, data in enumerate(bad):
        p = FormParser(BOUNDARY.encode(), Collect, 10, 1000)
        try:
            p.feed(data)
            p.finish()
        except ValueError:
            continue
        raise AssertionError("malformed body %d accepted" % i)


def make_app():
    app = App()

    @app.post("/up")
    @with_form_data
    def up(request):
        f = request.files["file"]
        data = f.read()
        return {"title": request.form["title"], "size": f.size, "same": data == PARTS[1][2],
                "spooled": f.spool_path is not None, "name": f.filename}

    @app.post("/plain")
    def plain(request):
        return {"n": len(request.files), "title": request.form.get("title")}

    return app


def post(c, path, data, boundary=BOUNDARY):
    return c.post(path, body=data, headers={"Content-Type": "multipart/form-data; boundary=" + boundary})


def test_upload_in_memory_and_spooled():
    c = TestClient(make_app())
    res = post(c, "/up", body(PARTS))
    assert res.json == {"title": "Hello", "size": len(PARTS[1][2]), "same": True, "spooled": False,
                        "name": "a.bin"}, res.json
    saved = Request.max_file_memory
    Request.max_file_memory = 100
    try:
        res = post(c, "/up", body(PARTS))
        assert res.json["spooled"] and res.json["same"], res.json
    finally:
        Request.max_file_memory = saved
    leftovers = [n for n in os.listdir(spool_dir(Request)) if n.startswith("kiln-upload-")]
    assert leftovers == [], leftovers
    assert post(c, "/plain", body(PARTS)).json == {"n": 1, "title": "Hello"}


def test_save_moves_the_upload():
    app = App()
    target = "/tmp/kiln-test-saved.bin"

    @app.post("/save")
    def save(request):
        request.files["file"].save(target)
        return "ok"

    saved = Request.max_file_memory
    for limit in (100000, 10):
        Request.max_file_memory = limit
        try:
            res = post(TestClient(app), "/save", body(PARTS))
        finally:
            Request.max_file_memory = saved
        assert res.status_code == 200, res.body
        with open(target, "rb") as f:
            assert f.read() == PARTS[1][2]
        os.remove(target)


def test_malformed_multipart_400_and_limits_413():
    c = TestClient(make_app())
    assert post(c, "/plain", body(PARTS, end=False)).status_code == 400
    assert post(c, "/plain", b"garbage").status_code == 400
    assert c.post("/plain", body=body(PARTS), headers={"Content-Type": "multipart/form-data"}).status_code == 400
    many = [("f%d" % i, None, b"v") for i in range(Request.max_form_parts + 1)]
    assert post(c, "/plain", body(many)).status_code == 413


def spool_files():
    return [n for n in os.listdir(spool_dir(Request)) if n.startswith("kiln-upload-")]


def test_spooled_uploads_are_removed_when_the_request_fails():
    app = App()

    @app.post("/fails")
    def fails(request):
        assert request.files["file"].size > 0
        raise RuntimeError("the view fails after reading the upload")

    c = TestClient(app)
    saved = Request.max_file_memory
    Request.max_file_memory = 100
    try:
        assert post(c, "/fails", body(PARTS)).status_code == 500
        assert post(c, "/fails", body(PARTS, end=False)).status_code == 400
    finally:
        Request.max_file_memory = saved
    assert spool_files() == [], spool_files()
