"""Microdot 2.7.0 from PyPI, compiled with the firmware's mpy-cross: the peer Kiln is measured
against (bench/run.py) and the framework a port starts from (tests/test_app_microdot_port.py).

`folder()` returns build/microdot, which holds the package `microdot/` as .mpy files; it is
downloaded and compiled once. Raises OSError or CalledProcessError when pip cannot get it."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "2.7.0"
MODULES = ("__init__", "microdot", "helpers", "websocket")


def folder():
    target = ROOT / "build" / "microdot"
    package = target / "microdot"
    if all((package / (m + ".mpy")).exists() for m in MODULES):
        return target
    download = ROOT / "build" / "microdot-download"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "microdot==" + VERSION,
                    "-d", str(download)], check=True, capture_output=True, timeout=120)
    wheel = next(download.glob("microdot-%s-*.whl" % VERSION))
    with zipfile.ZipFile(wheel) as z:
        z.extractall(download / "src")
    package.mkdir(parents=True, exist_ok=True)
    mpy_cross = ROOT / "build" / "mpy-cross" / "mpy-cross"
    for m in MODULES:
        subprocess.run([str(mpy_cross), "-o", str(package / (m + ".mpy")),
                        str(download / "src" / "microdot" / (m + ".py"))], check=True)
    return target
