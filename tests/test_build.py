"""The build foundation: version, modules, device builds that fail fast without their
toolchains, and the packaging step that checks images with esptool offline."""

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_upy

ESPTOOL = ROOT / ".venv" / "bin" / "esptool"
PACKAGING = Path(__file__).parent / "packaging"


def test_firmware_is_micropython_1_25_0():
    out = run_upy("import sys; print(sys.implementation.version[:3])").stdout
    assert out.strip() == "(1, 25, 0)"


def test_firmware_has_the_modules_a_web_app_needs():
    names = "asyncio socket select json re hashlib binascii _kiln kiln"
    proc = run_upy("for n in %r.split(): __import__(n)\nprint('ok')" % names)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_firmware_has_the_micropython_lib_packages_apps_use_on_the_boards():
    names = "ssl requests umqtt.simple umqtt.robust mip logging aiohttp"
    proc = run_upy("for n in %r.split(): __import__(n)\nprint('ok')" % names)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_hashlib_sha1_gives_the_standard_digest():
    proc = run_upy("import hashlib, binascii; print(binascii.hexlify(hashlib.sha1(b'abc').digest()).decode())")
    assert proc.stdout.strip() == hashlib.sha1(b"abc").hexdigest(), proc.stderr


@pytest.fixture
def tls_server(tmp_path):
    """A one-connection TLS server on 127.0.0.1 (self-signed certificate) that answers b"pong"
    to what it reads; yields its port, then what it read."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_ciphers("DEFAULT")  # Python's own list has no plain-RSA key exchange, the one axtls has
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    received = []

    def answer():
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            received.append(tls.recv(4))
            tls.sendall(b"pong")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    thread.join(10)
    listener.close()


def test_ssl_client_exchanges_data_with_a_local_tls_server(tls_server):
    port, received = tls_server
    proc = run_upy(
        "import socket, ssl\n"
        "s = socket.socket()\n"
        "s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])\n"
        "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
        "ctx.verify_mode = ssl.CERT_NONE\n"
        "tls = ctx.wrap_socket(s, server_hostname='127.0.0.1')\n"
        "tls.write(b'ping')\n"
        "print(tls.read(4))" % port, timeout=20)
    assert proc.stdout.strip() == "b'pong'", proc.stdout + proc.stderr
    assert received == [b"ping"]


def test_every_module_of_the_package_is_an_attribute_or_cannot_import_here():
    # kiln.__getattr__ names the package's modules: a new module must be added there
    names = sorted(p.stem for p in (ROOT / "modules" / "kiln").glob("*.py") if p.stem != "__init__")
    code = ("import kiln\nfor n in %r:\n    if not hasattr(kiln, n):\n"
            "        try:\n            __import__('kiln.' + n)\n            print('missing', n)\n"
            "        except ImportError:\n            pass\nprint('done')" % names)
    proc = run_upy(code)
    assert proc.stdout.split() == ["done"], proc.stdout + proc.stderr


def make_without(tool_dir_filter, *target):
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if tool_dir_filter(p))
    start = time.monotonic()
    proc = subprocess.run(["make", "-s", *target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - start


def test_make_esp32_without_esp_idf_stops_at_once_naming_it():
    proc, seconds = make_without(lambda p: not (Path(p) / "idf.py").exists(), "esp32", "BOARD=ESP32_GENERIC")
    assert proc.returncode != 0
    assert seconds < 20
    assert "ESP-IDF not found" in proc.stderr


def test_make_esp32_rejects_an_unknown_board():
    proc, _ = make_without(lambda p: True, "esp32", "BOARD=NO_SUCH_BOARD")
    assert proc.returncode != 0
    assert "no board folder boards/NO_SUCH_BOARD" in proc.stderr


def test_make_flash_with_a_mistyped_board_lists_the_boards():
    proc, _ = make_without(lambda p: True, "flash", "BOARD=ESP32_GENRIC")
    assert proc.returncode != 0
    assert "no board folder boards/ESP32_GENRIC" in proc.stderr
    assert "ESP32_GENERIC ESP32_GENERIC_C3 ESP32_GENERIC_S3 ESP8266_GENERIC UNIX" in proc.stderr


def test_esp8266_inputs_without_github_or_the_vendored_tarball_fail_at_once(tmp_path):
    env = dict(os.environ, KILN_VENDOR=str(tmp_path / "nowhere"), KILN_NO_GITHUB="1")
    start = time.monotonic()
    proc = subprocess.run([ROOT / "tools" / "get-vendor.sh", tmp_path / "vendor"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert time.monotonic() - start < 20
    assert "esp8266-vendor.tar.xz is missing" in proc.stderr
    assert not (tmp_path / "vendor").exists()


def test_the_vendored_tarball_is_refused_when_its_sha256_differs(tmp_path):
    (tmp_path / "esp8266-vendor.tar.xz").write_bytes(b"not the tarball")
    env = dict(os.environ, KILN_VENDOR=str(tmp_path), KILN_NO_GITHUB="1")
    proc = subprocess.run([ROOT / "tools" / "get-vendor.sh", tmp_path / "vendor"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "sha256 mismatch" in proc.stderr


@pytest.fixture
def tiny_esp8266_image(tmp_path):
    if not shutil.which("xtensa-lx106-elf-gcc"):
        pytest.skip("xtensa-lx106-elf-gcc is not installed (.ci/run installs it)")
    elf = tmp_path / "tiny.elf"
    subprocess.run(
        ["xtensa-lx106-elf-gcc", "-Os", "-mlongcalls", "-mtext-section-literals", "-nostdlib",
         "-T", PACKAGING / "tiny_esp8266.ld", "-o", elf, PACKAGING / "tiny_esp8266.c"],
        check=True,
    )
    subprocess.run([ESPTOOL, "--chip", "esp8266", "elf2image", "--version", "1", "-o", tmp_path / "tiny-", elf],
                   check=True, capture_output=True)
    return tmp_path / "tiny-0x00000.bin"


def package(image, out):
    return subprocess.run(
        [ROOT / "tools" / "package-firmware.py", "--chip", "esp8266", "--out", out, "--image", "0x0", image],
        capture_output=True, text=True,
    )


def test_packaging_records_offsets_sizes_and_checksums(tiny_esp8266_image, tmp_path):
    out = tmp_path / "firmware"
    proc = package(tiny_esp8266_image, out)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "flash.json").read_text())
    assert manifest["chip"] == "esp8266"
    assert manifest["images"] == [{"offset": "0x0", "file": "tiny-0x00000.bin"}]
    data = tiny_esp8266_image.read_bytes()
    entry = manifest["files"]["tiny-0x00000.bin"]
    assert entry["size"] == len(data)
    subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out, check=True)


def test_packaging_refuses_an_image_with_a_bad_checksum(tiny_esp8266_image, tmp_path):
    data = bytearray(tiny_esp8266_image.read_bytes())
    data[0x10] ^= 0xFF
    bad = tmp_path / "bad.bin"
    bad.write_bytes(data)
    proc = package(bad, tmp_path / "firmware")
    assert proc.returncode != 0
    assert "invalid" in proc.stderr


def test_deploy_copies_an_apps_modules_packages_templates_and_static_only(tmp_path):
    for name in ("main.py", "sensors.py", "test_main.py", "conftest.py", ".env", "notes.txt"):
        (tmp_path / name).write_text("")
    for folder in ("templates", "static", "uploads", "tests", "__pycache__", "lib"):
        (tmp_path / folder).mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    proc = subprocess.run([ROOT / "tools" / "app_files.py", tmp_path], check=True, capture_output=True, text=True)
    assert proc.stdout.split() == ["lib", "main.py", "sensors.py", "static", "templates"]
