"""examples/upload over real sockets: the form page and a multipart file upload."""

import http.client
import json
import shutil
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "examples" / "upload"


def post_file(server, filename, data, title="t"):
    boundary = "----kilnExampleBoundary"
    body = (b"--%(b)s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%(t)s\r\n"
            b"--%(b)s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%(f)s\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" % {
                b"b": boundary.encode(), b"t": title.encode(), b"f": filename.encode()}) + data + (
        b"\r\n--%s--\r\n" % boundary.encode())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", "/upload", body=body,
                     headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def test_form_and_upload(serve, tmp_path):
    app_dir = tmp_path / "upload"
    shutil.copytree(APP, app_dir)
    server = serve(app_dir)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/")
    page = conn.getresponse().read()
    assert b'enctype="multipart/form-data"' in page
    data = bytes(range(256)) * 40
    status, body = post_file(server, "photo.bin", data, title="Holiday")
    assert status == 201, body
    assert json.loads(body) == {"title": "Holiday", "filename": "photo.bin", "size": len(data)}
    assert (app_dir / "uploads" / "photo.bin").read_bytes() == data
    conn.request("GET", "/")
    assert b"<li>photo.bin</li>" in conn.getresponse().read()
    conn.close()


def test_bad_uploads_refused(serve, tmp_path):
    app_dir = tmp_path / "upload"
    shutil.copytree(APP, app_dir)
    server = serve(app_dir)
    assert post_file(server, ".hidden", b"x")[0] == 400
    status, _ = post_file(server, "../../escape.txt", b"x")
    assert status == 201 and (app_dir / "uploads" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert not list(app_dir.parent.glob("escape.txt"))


def test_large_upload_is_streamed_to_disk(serve, tmp_path):
    app_dir = tmp_path / "upload"
    shutil.copytree(APP, app_dir)
    server = serve(app_dir, heapsize="256k")
    data = bytes(range(256)) * 2000  # 512 KB through a 256 KB heap
    status, body = post_file(server, "big.bin", data)
    assert status == 201, body
    assert json.loads(body)["size"] == len(data)
    assert (app_dir / "uploads" / "big.bin").read_bytes() == data
    assert not list(app_dir.glob("kiln-upload-*"))
    status, _ = post_file(server, "huge.bin", b"x" * (1024 * 1024 + 1))
    assert status == 413
