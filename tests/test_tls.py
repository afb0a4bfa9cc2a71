"""HTTPS and WSS: an app served with app.run(ssl=kiln.tls.server_context(cert, key)) by the unix
firmware (Mbed TLS, as on the esp32), checked with curl and CPython's ssl against a certificate
made by tools/make-cert.sh (make cert)."""

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import websockets
from conftest import run_upy

APP = Path(__file__).resolve().parent / "apps" / "ws_echo"


def tls_setup(cert, key):
    return "import kiln.tls; ctx = kiln.tls.server_context(%r, %r); " % (str(cert), str(key))


@pytest.fixture
def https(serve, certs):
    # PEM for the certificate, DER for the key: server_context takes either
    setup = tls_setup(certs / "cert.pem", certs / "key.der")
    return serve(APP, run_args=", ssl=ctx", setup=setup)


def client_context(certs, name="cert.pem"):
    return ssl.create_default_context(cafile=str(certs / name))


def get(server, certs, path="/", host="localhost"):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with client_context(certs).wrap_socket(raw, server_hostname=host) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
            out = b""
            while chunk := s.recv(4096):
                out += chunk
            return out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_trusting_the_certificate_gets_the_page(https, certs):
    r = subprocess.run(["curl", "-sS", "--cacert", certs / "cert.pem", "https://localhost:%d/" % https.port,
                        "--resolve", "localhost:%d:127.0.0.1" % https.port, "-w", " %{http_code}"],
                       capture_output=True, text=True, timeout=20)
    assert r.stdout == "ok 200", r.stderr + https.console()
    assert "serving on https://" in https.console()


def test_keep_alive_requests_share_one_tls_connection(https, certs):
    with socket.create_connection(("127.0.0.1", https.port), timeout=10) as raw:
        with client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as s:
            for _ in range(20):
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                buf = b""
                while not buf.endswith(b"ok"):
                    buf += s.recv(4096)
                assert buf.startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_client_that_does_not_trust_the_certificate_refuses_it(https, certs):
    with socket.create_connection(("127.0.0.1", https.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            client_context(certs, "other/cert.pem").wrap_socket(raw, server_hostname="localhost")
    assert get(https, certs).endswith(b"ok")


def test_clients_stalled_in_the_handshake_do_not_block_others(https, certs):
    stalled = [socket.create_connection(("127.0.0.1", https.port)) for _ in range(3)]
    # one sends half a ClientHello, the others nothing
    stalled[0].sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20)
    try:
        t0 = time.monotonic()
        for _ in range(5):
            assert get(https, certs).endswith(b"ok")
        assert time.monotonic() - t0 < 5
    finally:
        for s in stalled:
            s.close()


def test_plain_http_to_the_tls_port_gets_no_page_and_is_closed_by_the_timeout(serve, certs):
    setup = tls_setup(certs / "cert.pem", certs / "key.pem")
    server = serve(APP, run_args=", ssl=ctx, idle_timeout=2, head_timeout=2", setup=setup)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # Mbed TLS reads "GET " as a record header and waits for the rest of the record: the
        # connection holds its slot until the timeout, and others are served meanwhile
        assert get(server, certs).endswith(b"ok")
        t0 = time.monotonic()
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        assert b"HTTP/1.1 200" not in data and time.monotonic() - t0 < 8
    assert server.alive()


def test_websocket_over_tls_echoes(https, certs):
    async def talk():
        uri = "wss://localhost:%d/echo" % https.port
        async with websockets.connect(uri, ssl=client_context(certs), open_timeout=10) as ws:
            for message in ("hello", b"\x00" * 16000):
                await ws.send(message)
                assert await ws.recv() == message

    asyncio.run(talk())


def test_a_key_that_does_not_parse_is_refused_at_once(certs, tmp_path):
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    r = run_upy("import kiln.tls\ntry:\n kiln.tls.server_context(%r, %r)\nexcept ValueError as e:\n print('refused', e)"
                % (str(certs / "cert.pem"), str(tmp_path / "bad.pem")))
    assert r.stdout.strip() == "refused invalid key", r.stdout + r.stderr


def test_a_large_file_over_tls_is_encrypted_whole(serve, certs, tmp_path):
    # a file larger than the send buffer: over plain HTTP on Linux it goes by sendfile(2), which
    # would skip the TLS stream; over TLS it must go through it (the client checks every record)
    data = bytes(range(256)) * 1200
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "main.py").write_text(
        "from kiln import App, send_file\napp = App()\n\n\n@app.route('/big')\n"
        "def big(request):\n    return send_file('big.bin')\n")
    server = serve(tmp_path, run_args=", ssl=ctx", setup=tls_setup(certs / "cert.pem", certs / "key.der"))
    out = get(server, certs, "/big", host="localhost")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == data
