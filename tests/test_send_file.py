"""send_file and app.static over real sockets: the cached metadata and the block-sized file path
(issue #12) answer exactly what the file holds, when it changes too."""

import hashlib
import http.client
import os
import socket
import threading
import time

import pytest
from conftest import DEVICE_FIRMWARE

APP = '''
import gc
import os
from kiln import App, Response, send_file

app = App()
app.static("/s", "files", max_age=60)


@app.get("/one")
def one(request):
    return send_file("files/data.bin")


@app.get("/hooked")
def hooked(request):
    return send_file("files/data.bin")


@app.get("/cookie")
def cookie(request):
    res = send_file("files/data.bin")
    res.set_cookie("seen", "1")
    return res


@app.get("/short")
def short(request):
    # a body shorter than its Content-Length: the file ends first
    return Response(open("files/big.bin", "rb"), headers={"Content-Length": str(os.stat("files/big.bin")[6] + 5000)})


@app.get("/heap")
def heap(request):
    gc.collect()
    return "%d %d" % (gc.mem_alloc(), gc.mem_free())
'''


HOOK = '''

@app.after_request
def mark(request, response):
    if request.path == "/hooked":
        response.headers["X-Hooked"] = "yes"
'''


def get(server, path, headers=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.request(method, path, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def read_to_close(server, raw):
    # what the server sends on a connection given raw, until it closes it
    data = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(raw)
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.fixture(params=["no hooks", "an after hook"])
def site(request, tmp_path, serve):
    # with no hook a file answer takes the App's short path (FileResponse._answer)
    (tmp_path / "main.py").write_text(APP if request.param == "no hooks" else APP + HOOK)
    files = tmp_path / "files"
    files.mkdir()
    data = os.urandom(3000)
    (files / "data.bin").write_bytes(data)

    def start(heapsize=None, firmware=None):
        return serve(tmp_path, heapsize=heapsize, firmware=firmware)

    return start, files


def test_a_1mb_file_is_byte_exact_through_static_and_send_file(site):
    start, files = site
    big = os.urandom(1 << 20)
    (files / "big.bin").write_bytes(big)
    server = start()
    for _ in range(2):  # the second from the cached metadata
        status, headers, body = get(server, "/s/big.bin")
        assert status == 200 and headers["content-length"] == str(len(big))
        assert hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
    status, _, body = get(server, "/one")
    assert status == 200 and body == (files / "data.bin").read_bytes()


def test_1mb_files_to_several_clients_fit_a_small_heap(site):
    # 4 clients each get the whole 1 MB file from a 96 KB heap: no file is read whole, and the
    # blocks the files go out in stay within the heap's share for them
    start, files = site
    big = os.urandom(1 << 20)
    (files / "big.bin").write_bytes(big)
    server = start(heapsize="96k")
    digest = hashlib.sha256(big).digest()
    results = []

    def fetch():
        status, _, body = get(server, "/s/big.bin")
        results.append(status == 200 and hashlib.sha256(body).digest() == digest)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [True] * 4
    assert "MemoryError" not in server.console() and "500" not in server.console()
    assert get(server, "/s/data.bin")[0] == 200


@pytest.mark.skipif(not DEVICE_FIRMWARE.exists(), reason="make unix-device first")
def test_files_to_several_clients_in_the_esp8266_profile(site):
    # the 32-bit device firmware in an ESP8266's 38 KB heap: blocks sized from that heap
    start, files = site
    big = os.urandom(100000)
    (files / "big.bin").write_bytes(big)
    server = start(heapsize="38k", firmware=DEVICE_FIRMWARE)
    results = []

    def fetch(path, data):
        status, _, body = get(server, path)
        results.append(status == 200 and body == data)

    threads = [threading.Thread(target=fetch, args=("/s/big.bin", big)) for _ in range(3)]
    threads.append(threading.Thread(target=fetch, args=("/s/data.bin", (files / "data.bin").read_bytes())))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [True] * 4
    assert "MemoryError" not in server.console()


def test_the_output_buffer_grown_for_a_file_is_given_back(site):
    start, files = site
    (files / "big.bin").write_bytes(os.urandom(200000))
    server = start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.request("GET", "/heap")
    before = int(conn.getresponse().read().split()[0])
    for _ in range(3):
        conn.request("GET", "/s/big.bin")
        assert len(conn.getresponse().read()) == 200000
    conn.request("GET", "/heap")  # on the same connection, after its file responses
    after = int(conn.getresponse().read().split()[0])
    conn.close()
    assert after - before < 8192, (before, after)


def test_ranges_on_the_cached_path(site):
    start, files = site
    data = (files / "data.bin").read_bytes()
    server = start()
    status, headers, _ = get(server, "/s/data.bin")
    tag = headers["etag"]
    for _ in range(2):
        status, headers, body = get(server, "/s/data.bin", {"Range": "bytes=1000-1999"})
        assert status == 206 and body == data[1000:2000]
        assert headers["content-range"] == "bytes 1000-1999/3000" and headers["content-length"] == "1000"
        assert headers["etag"] == tag and headers["cache-control"] == "max-age=60"
    assert get(server, "/s/data.bin", {"Range": "bytes=-100"})[2] == data[-100:]
    assert get(server, "/s/data.bin", {"Range": "bytes=2990-"})[2] == data[2990:]
    status, headers, body = get(server, "/s/data.bin", {"Range": "bytes=0-9", "If-Range": tag})
    assert status == 206 and body == data[:10]
    status, _, body = get(server, "/s/data.bin", {"Range": "bytes=0-9", "If-Range": '"old"'})
    assert status == 200 and body == data
    status, headers, _ = get(server, "/s/data.bin", {"Range": "bytes=3000-"})
    assert status == 416 and headers["content-range"] == "bytes */3000"
    status, headers, body = get(server, "/s/data.bin", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "3000"


def test_a_file_changed_between_requests_gets_new_validators(site):
    start, files = site
    path = files / "data.bin"
    server = start()
    status, headers, body = get(server, "/s/data.bin")
    old_tag, old_length = headers["etag"], headers["content-length"]
    assert get(server, "/s/data.bin", {"If-None-Match": old_tag})[0] == 304
    new = os.urandom(2000)
    path.write_bytes(new)
    os.utime(path, (time.time() + 5, time.time() + 5))
    for route in ("/s/data.bin", "/one"):
        status, headers, body = get(server, route, {"If-None-Match": old_tag})
        assert status == 200 and body == new, route
        assert headers["etag"] != old_tag and headers["content-length"] == "2000" != old_length
    assert get(server, "/s/data.bin", {"If-None-Match": headers["etag"]})[0] == 304


def test_a_removed_file_is_not_found_at_once_and_a_new_gz_is_seen(site):
    start, files = site
    (files / "page.txt").write_bytes(b"plain text")
    server = start()
    assert get(server, "/s/page.txt")[2] == b"plain text"
    (files / "page.txt.gz").write_bytes(b"GZ")
    time.sleep(1.1)  # static.VARIANT_RECHECK_MS
    status, headers, body = get(server, "/s/page.txt", {"Accept-Encoding": "gzip"})
    assert body == b"GZ" and headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    (files / "page.txt.gz").unlink()
    status, headers, body = get(server, "/s/page.txt", {"Accept-Encoding": "gzip"})
    assert body == b"plain text" and "content-encoding" not in headers
    (files / "page.txt").unlink()
    assert get(server, "/s/page.txt")[0] == 404


def test_an_after_request_hook_changes_the_headers_of_a_file(site):
    start, files = site
    server = start()
    for _ in range(2):
        status, headers, body = get(server, "/hooked")
        assert status == 200 and body == (files / "data.bin").read_bytes()
        hooked = "def mark" in (files.parent / "main.py").read_text()
        assert headers.get("x-hooked") == ("yes" if hooked else None)
        assert headers["etag"].startswith('"')
        assert headers["content-type"] == "application/octet-stream"


def test_pipelined_file_responses_stay_in_order(site):
    start, files = site
    (files / "a.txt").write_bytes(b"A" * 50000)
    (files / "b.txt").write_bytes(b"B" * 10)
    server = start()
    data = read_to_close(server, b"GET /s/a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /s/b.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                         b"GET /s/a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    parts = data.split(b"HTTP/1.1 200 OK")
    assert len(parts) == 4
    bodies = [p.split(b"\r\n\r\n", 1)[1] for p in parts[1:]]
    assert bodies == [b"A" * 50000, b"B" * 10, b"A" * 50000]


def test_a_cookie_on_a_file_response_keeps_its_headers(site):
    start, files = site
    server = start()
    for _ in range(2):
        status, headers, body = get(server, "/cookie")
        assert status == 200 and body == (files / "data.bin").read_bytes()
        assert headers["set-cookie"] == "seen=1" and headers["etag"].startswith('"')
        assert headers["content-length"] == "3000"


def test_a_file_shorter_than_its_content_length_ends_the_connection(site):
    # the file runs out before the length the response announced: what it held is sent, then
    # the connection closes (the client sees a short body), and the server goes on serving
    start, files = site
    big = os.urandom(300000)  # more than the send buffer holds: on Linux it goes by sendfile(2)
    (files / "big.bin").write_bytes(big)
    server = start()
    data = read_to_close(server, b"GET /short HTTP/1.1\r\nHost: t\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 305000" in head and body == big
    assert get(server, "/one")[0] == 200


def test_plain_file_answers_follow_the_file_and_the_request(site):
    # the kept 200 of an unchanged file, and each case that leaves it: a condition, a range, a
    # changed, removed or replaced file
    start, files = site
    path = files / "data.bin"
    data = path.read_bytes()
    server = start()
    status, headers, body = get(server, "/one")
    assert status == 200 and body == data and headers["content-length"] == "3000"
    tag = headers["etag"]
    assert get(server, "/one", {"If-None-Match": tag})[0] == 304
    assert get(server, "/one", {"If-Modified-Since": headers["last-modified"]})[0] == 304
    assert get(server, "/one", {"Range": "bytes=0-9"})[2] == data[:10]
    assert get(server, "/one")[2] == data
    path.write_bytes(b"new")
    os.utime(path, (time.time() + 5, time.time() + 5))
    status, headers, body = get(server, "/one")
    assert body == b"new" and headers["etag"] != tag and headers["content-length"] == "3"
    path.unlink()
    assert get(server, "/one")[0] == 404
    path.mkdir()
    assert get(server, "/one")[0] == 404


def test_a_slow_reader_gets_a_whole_large_file_while_others_are_served(site):
    # the socket fills again and again under a large file (sendfile(2) on Linux answers EAGAIN):
    # the file resumes where it stopped each time, and other clients are served meanwhile
    start, files = site
    big = os.urandom(12 << 20)  # more than a socket's send buffer grows to (Linux: 4 MB)
    (files / "big.bin").write_bytes(big)
    server = start()
    data = bytearray()
    reads = others = 0
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(20)
        s.connect(("127.0.0.1", server.port))
        s.sendall(b"GET /s/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        while len(data) < len(big) + 100 or data.find(b"\r\n\r\n") + 4 + len(big) > len(data):
            chunk = s.recv(8192)
            assert chunk, "closed before the end of the file"
            data += chunk
            reads += 1
            if reads % 32 == 0 and others < 5:
                assert get(server, "/one")[0] == 200
                others += 1
            time.sleep(0.0002)
    assert others == 5
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert b"200 OK" in head and hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
