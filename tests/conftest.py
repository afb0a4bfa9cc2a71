"""Fixtures that drive the unix firmware: run code in it, serve an app from it over real sockets,
and collect the MicroPython-side tests in tests/device/ (each runs inside the firmware)."""

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = Path(os.environ.get("KILN_FIRMWARE", ROOT / "firmware" / "UNIX" / "kiln"))
# The 32-bit device profile of the unix firmware (make unix-device, boards/UNIX_DEVICE).
DEVICE_FIRMWARE = ROOT / "firmware" / "UNIX_DEVICE" / "kiln"
DEVICE_DIR = Path(__file__).resolve().parent / "device"


# What AddressSanitizer/UBSan print when the ASan firmware (make test-asan) finds an error.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_report(text):
    """The sanitizer's report in a process's output, or None."""
    for mark in SANITIZER_MARKS:
        at = text.find(mark)
        if at >= 0:
            return text[max(0, at - 200):at + 4000]
    return None


def firmware_cmd(code, heapsize=None, firmware=None):
    cmd = [str(firmware or FIRMWARE)]
    if heapsize:
        cmd += ["-X", "heapsize=%s" % heapsize]
    return cmd + ["-c", code]


def run_upy(code, heapsize=None, cwd=None, timeout=60):
    """Run MicroPython code in the unix firmware; return the CompletedProcess (text output)."""
    proc = subprocess.run(
        firmware_cmd(code, heapsize), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    report = sanitizer_report(proc.stderr)
    if report:
        pytest.fail("the sanitizer reported an error in the firmware:\n" + report, pytrace=False)
    return proc


@pytest.fixture
def upy():
    return run_upy


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    """A firmware process serving an app on 127.0.0.1; its console goes to a log file."""

    def __init__(self, app_dir, log_path, heapsize=None, run_args="", firmware=None, setup=""):
        self.app_dir = Path(app_dir)
        self.log_path = log_path
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        code = (
            "import sys; sys.path.insert(0, '.'); import main; %s"
            "main.app.run(host='127.0.0.1', port=%d%s)" % (setup, self.port, run_args)
        )
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            firmware_cmd(code, heapsize, firmware),
            cwd=self.app_dir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.console())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("server did not answer within %ds:\n%s" % (timeout, self.console()))

    def console(self):
        """Everything the firmware has printed so far."""
        if not self._log.closed:
            self._log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A development certificate and key from tools/make-cert.sh (make cert) for localhost and
    127.0.0.1 (cert.pem, key.pem, DER beside them), and an unrelated one in other/: a client
    trusting only that one must refuse the first."""
    d = tmp_path_factory.mktemp("certs")
    subprocess.run([ROOT / "tools" / "make-cert.sh", d], check=True, capture_output=True)
    subprocess.run([ROOT / "tools" / "make-cert.sh", d / "other"], check=True, capture_output=True)
    return d


@pytest.fixture
def serve(tmp_path):
    """serve(app_dir, heapsize=None, run_args="", firmware=None, setup="") starts `main.app` of
    app_dir, running the code `setup` after importing main; stopped after the test."""
    servers = []

    def start(app_dir, heapsize=None, run_args="", firmware=None, setup=""):
        server = RunningServer(
            app_dir, tmp_path / ("console-%d.log" % len(servers)), heapsize, run_args, firmware, setup
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    for server in servers:
        report = sanitizer_report(server.console())
        if report:
            pytest.fail("the sanitizer reported an error in the server:\n" + report, pytrace=False)


# --- MQTT: a real Mosquitto and MicroPython scripts as its clients (tests/mqtt_broker.py) ---


@pytest.fixture(scope="session")
def mqtt_certs(tmp_path_factory):
    import mqtt_broker

    return mqtt_broker.make_certs(tmp_path_factory.mktemp("mqtt-certs"))


@pytest.fixture(scope="session")
def broker(tmp_path_factory, mqtt_certs):
    """One Mosquitto for the whole session."""
    import mqtt_broker

    b = mqtt_broker.Broker(tmp_path_factory.mktemp("mosquitto"), mqtt_certs)
    yield b
    b.stop()


@pytest.fixture
def own_broker(tmp_path, mqtt_certs, request):
    """A Mosquitto for one test, which may stop and restart it; persistent (its sessions
    survive a restart) if the test is marked `@pytest.mark.persistent_broker`."""
    import mqtt_broker

    persistent = request.node.get_closest_marker("persistent_broker") is not None
    b = mqtt_broker.Broker(tmp_path / "broker", mqtt_certs, persistent)
    yield b
    b.stop()


@pytest.fixture
def upy_script(tmp_path):
    """upy_script(name, code) starts a MicroPython script in the firmware; killed after the test."""
    import mqtt_broker

    scripts = []

    def start(name, code):
        scripts.append(mqtt_broker.Upy(tmp_path, name, code))
        return scripts[-1]

    yield start
    for script in scripts:
        script.kill()


# --- MicroPython-side tests: tests/device/test_*.py run inside the firmware -------------------


class DeviceFile(pytest.File):
    """A test file that runs inside the firmware; one item per top-level test_* function."""

    def collect(self):
        tree = ast.parse(self.path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield DeviceTest.from_parent(self, name=node.name)

    def results(self):
        if not hasattr(self, "_results"):
            code = "import sys; sys.path.insert(0, %r); import runner; runner.main(%r)" % (
                str(DEVICE_DIR),
                self.path.stem,
            )
            proc = run_upy(code, cwd=DEVICE_DIR, timeout=120)
            self._results = {}
            self._output = proc.stdout + proc.stderr
            for line in proc.stdout.splitlines():
                if line.startswith(("PASS ", "FAIL ")):
                    name = line[5:].split(":", 1)[0]
                    self._results[name] = line
        return self._results


class DeviceTest(pytest.Item):
    def runtest(self):
        results = self.parent.results()
        line = results.get(self.name)
        if line is None:
            raise AssertionError("no result from the firmware:\n" + self.parent._output)
        if line.startswith("FAIL"):
            raise AssertionError(self.parent._output)

    def reportinfo(self):
        return self.path, 0, "device: " + self.name


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.parent == DEVICE_DIR:
        return DeviceFile.from_parent(parent, path=module_path)
    return None


sys.dont_write_bytecode = True
