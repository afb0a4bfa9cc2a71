"""Updating in the field: app OTA (kiln.ota, kiln.slots) and firmware OTA (kiln.fwota) in the
unix firmware over real sockets, with tools/ota.py as the client. A temporary folder stands for
the board's flash; `machine` and `esp32` are unix stand-ins (tests/standins/): machine.reset()
ends the process (status 77) and the test boots the firmware again, as the chip would; the
health check's timer cannot preempt a hung unix process, so the test kills it at the deadline,
as the timer's reset would. Power loss is simulated by SIGKILL at each step of an update."""

import hashlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import FIRMWARE, ROOT, free_port

sys.path.insert(0, str(ROOT / "tools"))
import ota as client  # noqa: E402

STANDINS = ROOT / "tests" / "standins"
KEY = b"field-test-key-0123456789abcdef"
HEALTH = 2

APP = """from kiln import App
app = App()
@app.get("/")
def index(request):
    return %r
"""


def make_app(folder, version, extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(extra + APP % version)
    (folder / "templates").mkdir(exist_ok=True)
    (folder / "templates" / "page.html").write_text("<p>%s</p>" % version)
    return folder


class Board:
    """The unix firmware booting kiln.slots in a folder that stands for the board's flash."""

    def __init__(self, flash, tmp_path):
        self.flash = flash
        self.tmp = tmp_path
        self.port = free_port()
        self.proc = None
        self.boots = 0
        self.fsize = None
        self.paths = [str(STANDINS)]
        (flash / "kiln_ota_key.py").write_text("KEY = %r\n" % KEY)

    def boot(self, kill_at=None, settings=""):
        self.boots += 1
        code = ("import sys\nsys.path[:0] = %r + ['.']\nimport os, time, kiln.slots, kiln.ota\n"
                "kiln.slots.health_seconds = %d\nkiln.ota.reset_delay = 0.2\n%s\n"
                "at = %r\nflash = os.getcwd()\n"
                "def hook(name):\n"
                "    if name == at:\n"
                "        open(flash + '/at_' + name, 'w').close()\n"
                "        while True:\n"
                "            time.sleep(1)\n"
                "kiln.ota.on_step = hook\n"
                "kiln.slots.run(port=%d, host='127.0.0.1', network=False)\n"
                % (self.paths, HEALTH, settings, kill_at, self.port))
        self.log = open(self.tmp / ("console-%d.log" % self.boots), "w")
        limit = self.fsize

        def preexec():
            if limit:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        self.proc = subprocess.Popen([str(FIRMWARE), "-c", code], cwd=self.flash,
                                     env=dict(os.environ, KILN_STANDIN_FLASH=str(self.flash)), stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=preexec)
        return self

    def console(self):
        self.log.flush()
        return (self.tmp / ("console-%d.log" % self.boots)).read_text()

    def serving(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def up(self, **kw):
        self.boot(**kw)
        assert self.serving(), self.console()
        return self

    def get(self, path="/"):
        code, data = client.request("127.0.0.1", self.port, "GET", path, timeout=10)
        return code, data.decode()

    def status(self):
        return client.status("127.0.0.1", self.port)

    def upload(self, data, key=KEY, kind="app"):
        return client.upload("127.0.0.1", self.port, data, key, kind)

    def reset_exit(self, timeout=10):
        """Wait for the board to reset itself (machine.reset(): status 77)."""
        assert self.proc.wait(timeout) == 77, self.console()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def state(self):
        return json.loads((self.flash / "ota.json").read_text())

    def events(self, name):
        path = self.flash / name
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def board(tmp_path):
    flash = tmp_path / "flash"
    make_app(flash / "app_a", "v1")
    b = Board(flash, tmp_path)
    yield b
    b.kill()


def upload_until_the_power_goes(board, data):
    try:
        board.upload(data)
    except OSError:
        pass


def bundle_of(tmp_path, version, extra=""):
    return client.bundle(str(make_app(tmp_path / ("src-" + version), version, extra)))


def test_a_board_serves_its_app_and_reports_it(board):
    board.up()
    assert board.get() == (200, "v1")
    st = board.status()
    assert st["app"]["current"] == "a" and st["app"]["trial"] is False and st["key"] is True
    assert len(st["nonce"]) == 32


def test_a_good_bundle_is_swapped_in_runs_on_trial_and_is_confirmed(board, tmp_path):
    board.up()
    data = bundle_of(tmp_path, "v2")
    code, answer = board.upload(data)
    assert code == 200 and answer["slot"] == "app_b" and answer["sha256"] == hashlib.sha256(data).hexdigest()
    board.reset_exit()
    assert board.state()["trial"] is True and board.state()["current"] == "b"
    board.up()
    assert board.get() == (200, "v2")
    st = board.status()["app"]
    assert st["current"] == "b" and st["previous"] == "a" and st["trial"] is False and "confirmed" in st["reason"]
    assert (board.flash / "app_b" / "templates" / "page.html").read_text() == "<p>v2</p>"
    assert (board.flash / "app_a" / "main.py").exists()  # the previous version is kept
    assert ["timer", "init", HEALTH * 1000] in board.events("machine_log.jsonl")
    assert ["timer", "deinit"] in board.events("machine_log.jsonl")
    # and the next update goes to the other slot again
    code, answer = board.upload(bundle_of(tmp_path, "v3"))
    assert code == 200 and answer["slot"] == "app_a"
    board.reset_exit()
    board.up()
    assert board.get() == (200, "v3")


def test_make_ota_uploads_an_app_folder_and_waits_for_it_to_run(board, tmp_path):
    board.up()
    src = make_app(tmp_path / "src", "via make")

    def restart_when_reset():
        board.reset_exit()
        board.boot()

    import threading
    t = threading.Thread(target=restart_when_reset)
    t.start()
    out = subprocess.run(["make", "-s", "ota", "APP=" + str(src), "HOST=127.0.0.1", "OTA_PORT=%d" % board.port],
                         cwd=ROOT, env=dict(os.environ, KILN_OTA_KEY=KEY.decode()), capture_output=True,
                         text=True, timeout=60)
    t.join()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "accepted: app_b" in out.stdout and "confirmed" in out.stdout
    assert board.get() == (200, "via make")


def test_no_key_is_401_and_a_wrong_key_403_and_nothing_is_written(board, tmp_path):
    board.up()
    data = bundle_of(tmp_path, "v2")
    code, _ = client.request("127.0.0.1", board.port, "POST", "/ota/app", data, {"X-Kiln-SHA256": "0" * 64})
    assert code == 401
    code, answer = board.upload(data, key=b"not the key at all, sorry")
    assert code == 403 and "wrong key" in answer["error"]
    assert not (board.flash / "app_b").exists() and not (board.flash / "ota.json").exists()
    assert board.get() == (200, "v1") and board.proc.poll() is None


def test_a_replayed_upload_is_refused(board, tmp_path):
    board.up(settings="kiln.ota.reset_delay = 30")
    data = bundle_of(tmp_path, "v2")
    digest = hashlib.sha256(data).hexdigest()
    nonce = board.status()["nonce"]
    headers = {"Authorization": "Kiln-HMAC-SHA256 " + client.mac(KEY, "app", nonce, digest, len(data)),
               "X-Kiln-SHA256": digest}
    assert client.request("127.0.0.1", board.port, "POST", "/ota/app", data, headers)[0] == 200
    code, answer = client.request("127.0.0.1", board.port, "POST", "/ota/app", data, headers)
    assert code == 403 and b"stale nonce" in answer


def test_a_firmware_without_a_key_refuses_every_upload(board, tmp_path):
    (board.flash / "kiln_ota_key.py").write_text("KEY = None\n")
    board.up()
    code, answer = board.upload(bundle_of(tmp_path, "v2"))
    assert code == 403 and "no OTA key" in answer["error"]


def test_a_wrong_hash_is_refused_and_the_running_app_is_untouched(board, tmp_path):
    board.up()
    data = bundle_of(tmp_path, "v2")
    nonce = board.status()["nonce"]
    claimed = hashlib.sha256(data + b"x").hexdigest()  # the MAC covers another content
    headers = {"Authorization": "Kiln-HMAC-SHA256 " + client.mac(KEY, "app", nonce, claimed, len(data)),
               "X-Kiln-SHA256": claimed}
    code, answer = client.request("127.0.0.1", board.port, "POST", "/ota/app", data, headers)
    assert code == 400 and b"sha256 mismatch" in answer
    assert not (board.flash / "app_b").exists()
    assert board.state()["current"] == "a" and board.state()["trial"] is False
    assert board.get() == (200, "v1") and board.proc.poll() is None


@pytest.mark.parametrize("data, error", [
    (b"not a bundle\n", "not a Kiln app bundle"),
    (b"KILN-APP 1\nF 3 ../evil.py\nabcE\n", "bad bundle entry"),
    (b"KILN-APP 1\nF 3 /etc/x\nabcE\n", "bad bundle entry"),
    (b"KILN-APP 1\nF 3 a.py\nabcE\n", "no main.py"),
    (b"KILN-APP 1\nF 10 main.py\nabc", "ends in the middle"),
    (b"KILN-APP 1\nF 1 main.py\nxE\ntrailing", "after the end"),
])
def test_malformed_bundles_are_refused(board, data, error):
    board.up()
    code, answer = board.upload(data)
    assert code == 400 and error in answer["error"], answer
    assert not (board.flash / "app_b").exists() and board.get() == (200, "v1")


def test_an_oversized_upload_is_refused_before_it_is_read(board, tmp_path):
    board.up(settings="kiln.ota.max_bundle = 4096")
    code, answer = board.upload(bundle_of(tmp_path, "v2", extra="#" + "x" * 5000 + "\n"))
    assert code == 413
    assert not (board.flash / "app_b").exists() and board.get() == (200, "v1")


def test_a_full_filesystem_is_507_and_the_running_app_is_untouched(board, tmp_path):
    board.fsize = 20_000  # files over 20 KB cannot be written (RLIMIT_FSIZE): the flash is full
    board.up()
    code, answer = board.upload(bundle_of(tmp_path, "v2", extra="#" + "x" * 30_000 + "\n"))
    assert code == 507 and "full" in answer["error"]
    assert not (board.flash / "app_b").exists()
    assert board.get() == (200, "v1")


def test_an_upload_cut_short_leaves_the_running_app(board, tmp_path):
    board.up()
    data = bundle_of(tmp_path, "v2", extra="#" + "x" * 40_000 + "\n")
    digest = hashlib.sha256(data).hexdigest()
    nonce = board.status()["nonce"]
    s = socket.create_connection(("127.0.0.1", board.port))
    auth = client.mac(KEY, "app", nonce, digest, len(data)).encode()
    s.sendall(b"POST /ota/app HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\nX-Kiln-SHA256: %s\r\n"
              b"Authorization: Kiln-HMAC-SHA256 %s\r\n\r\n" % (len(data), digest.encode(), auth))
    s.sendall(data[:len(data) // 2])
    time.sleep(0.3)
    s.close()
    deadline = time.monotonic() + 5
    while (board.flash / "app_b").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (board.flash / "app_b").exists()
    assert board.get() == (200, "v1") and board.proc.poll() is None
    assert board.state()["current"] == "a"


@pytest.mark.parametrize("step, runs", [("staging", "v1"), ("written", "v1"), ("verified", "v1"), ("swapped", "v2")])
def test_power_loss_at_each_step_leaves_a_board_that_boots(board, tmp_path, step, runs):
    board.up(kill_at=step)
    data = bundle_of(tmp_path, "v2", extra="#" + "x" * 20_000 + "\n")
    import threading
    t = threading.Thread(target=upload_until_the_power_goes, args=(board, data), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not (board.flash / ("at_" + step)).exists():
        assert time.monotonic() < deadline and board.proc.poll() is None, board.console()
        time.sleep(0.02)
    board.kill()  # the power goes
    board.up()
    assert board.get() == (200, runs)
    assert board.status()["app"]["trial"] is False


def test_power_loss_in_the_middle_of_writing_the_bundle_leaves_the_running_app(board, tmp_path):
    board.up()
    data = bundle_of(tmp_path, "v2", extra="#" + "x" * 50_000 + "\n")
    digest = hashlib.sha256(data).hexdigest()
    auth = client.mac(KEY, "app", board.status()["nonce"], digest, len(data)).encode()
    s = socket.create_connection(("127.0.0.1", board.port))
    s.sendall(b"POST /ota/app HTTP/1.1\r\nHost: b\r\nContent-Length: %d\r\nX-Kiln-SHA256: %s\r\n"
              b"Authorization: Kiln-HMAC-SHA256 %s\r\n\r\n" % (len(data), digest.encode(), auth))
    s.sendall(data[:30_000])  # main.py is being written when the power goes
    deadline = time.monotonic() + 10
    while not (board.flash / "app_b" / "main.py").exists():
        assert time.monotonic() < deadline, board.console()
        time.sleep(0.01)
    board.kill()
    s.close()
    assert (board.flash / "app_b" / "main.py").stat().st_size < 50_000
    board.up()
    assert board.get() == (200, "v1")
    assert board.state()["current"] == "a" and board.state()["trial"] is False


def test_a_power_cut_inside_a_fat_rename_boots_what_the_complete_temporary_file_says(board):
    # FAT renames over a file by removing it first: between the two, only ota.json.tmp is left.
    make_app(board.flash / "app_b", "v2")
    (board.flash / "ota.json.tmp").write_text(json.dumps({"current": "b", "previous": "a", "trial": False,
                                                          "booted": 0, "reason": "switched"}))
    board.up()
    assert board.get() == (200, "v2")


def test_a_new_app_that_raises_at_import_is_rolled_back(board, tmp_path):
    board.up()
    assert board.upload(bundle_of(tmp_path, "v2", extra="raise ValueError('boom')\n"))[0] == 200
    board.reset_exit()
    board.boot()
    board.reset_exit()  # the trial's import failed: rolled back, reset
    board.up()
    assert board.get() == (200, "v1")
    st = board.status()["app"]
    assert st["current"] == "a" and st["previous"] is None and st["trial"] is False
    assert "app_b failed at import: ValueError: boom; rolled back to app_a" == st["reason"]


def test_a_new_app_that_hangs_is_rolled_back_after_the_timeout(board, tmp_path):
    board.up()
    assert board.upload(bundle_of(tmp_path, "v2", extra="import time\nwhile True:\n    time.sleep(0.05)\n"))[0] == 200
    board.reset_exit()
    board.boot()
    assert not board.serving(timeout=HEALTH + 1)  # hangs past the deadline...
    assert ["timer", "init", HEALTH * 1000] in board.events("machine_log.jsonl")
    board.kill()  # ...where the timer resets the board
    board.up()
    assert board.get() == (200, "v1")
    st = board.status()["app"]
    assert st["current"] == "a" and "app_b did not start serving within 2 s" in st["reason"]


def test_a_slot_without_an_app_serves_only_ota_to_receive_one(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    b = Board(flash, tmp_path)
    try:
        b.up()
        code, text = b.get("/")
        assert code == 200 and "No app yet" in text
        assert b.upload(bundle_of(tmp_path, "first"))[0] == 200
        b.reset_exit()
        b.up()
        assert b.get() == (200, "first")
    finally:
        b.kill()


# --- firmware OTA, against the file-backed stand-in of esp32.Partition --------------------------

SLOT = 256 * 1024


def bootloader(flash):
    """What ESP-IDF's bootloader (rollback enabled) does at a reset, on otadata.json: a new boot
    partition runs pending verification; one still pending at the next reset is abandoned."""
    path = flash / "otadata.json"
    d = json.loads(path.read_text())
    if d["pending_verify"]:
        d["boot"] = d["previous"]
        d["pending_verify"] = False
    elif d["boot"] != d["running"]:
        d["previous"] = d["running"]
        d["pending_verify"] = True
    d["running"] = d["boot"]
    path.write_text(json.dumps(d))
    return d


@pytest.fixture
def esp32_board(board):
    (board.flash / "otadata.json").write_text(json.dumps({"boot": "ota_0", "running": "ota_0",
                                                          "pending_verify": False, "size": SLOT}))
    board.paths.append(str(STANDINS / "esp32_board"))
    return board


def test_a_firmware_image_is_written_in_blocks_verified_then_set_to_boot_on_the_unix_stand_in(esp32_board):
    board = esp32_board.up()
    st = board.status()
    assert st["firmware"] == {"running": "ota_0", "next": "ota_1"}
    image = os.urandom(100_000)
    code, answer = board.upload(image, kind="firmware")
    assert code == 200 and answer["partition"] == "ota_1"
    board.reset_exit()
    events = board.events("esp32_log.jsonl")
    kinds = [e[0] for e in events]
    assert kinds.count("writeblocks") == 25 and kinds.count("readblocks") == 25
    assert kinds.index("set_boot") > max(i for i, k in enumerate(kinds) if k == "readblocks")
    assert events[kinds.index("set_boot")] == ["set_boot", "ota_1"]
    assert (board.flash / "partition_ota_1.bin").read_bytes()[:len(image)] == image
    # the new firmware boots pending verification and confirms itself once Kiln serves
    assert bootloader(board.flash)["pending_verify"] is True
    board.up()
    assert board.get() == (200, "v1")  # served: confirmed before the first request is answered
    assert board.events("esp32_log.jsonl")[-1] == ["mark_app_valid_cancel_rollback", "ota_1"]
    assert bootloader(board.flash) == {"boot": "ota_1", "running": "ota_1", "pending_verify": False,
                                       "size": SLOT, "previous": "ota_0"}


def test_a_firmware_that_never_serves_is_rolled_back_by_the_bootloader_on_the_unix_stand_in(esp32_board):
    board = esp32_board.up()
    assert board.upload(os.urandom(10_000), kind="firmware")[0] == 200
    board.reset_exit()
    bootloader(board.flash)  # the new firmware starts, pending verification, and dies before serving
    bootloader(board.flash)
    assert json.loads((board.flash / "otadata.json").read_text())["running"] == "ota_0"


@pytest.mark.parametrize("case", ["wrong hash", "oversized", "wrong key"])
def test_a_bad_firmware_upload_never_sets_the_boot_partition_on_the_unix_stand_in(esp32_board, case):
    board = esp32_board.up()
    image = os.urandom(SLOT + 4096 if case == "oversized" else 50_000)
    if case == "wrong hash":
        nonce = board.status()["nonce"]
        claimed = hashlib.sha256(b"other").hexdigest()
        headers = {"Authorization": "Kiln-HMAC-SHA256 " + client.mac(KEY, "firmware", nonce, claimed, len(image)),
                   "X-Kiln-SHA256": claimed}
        code = client.request("127.0.0.1", board.port, "POST", "/ota/firmware", image, headers)[0]
        assert code == 400
    else:
        code, _ = board.upload(image, kind="firmware", key=b"wrong key, wrong key" if case == "wrong key" else KEY)
        assert code == (403 if case == "wrong key" else 413)
    kinds = [e[0] for e in board.events("esp32_log.jsonl")]
    assert "set_boot" not in kinds
    if case != "wrong hash":
        assert "writeblocks" not in kinds
    assert board.proc.poll() is None and board.get() == (200, "v1")


def test_firmware_ota_answers_501_where_there_is_no_esp32_partition(board):
    board.up()  # no esp32 stand-in on sys.path: as on an ESP8266
    code, answer = client.request("127.0.0.1", board.port, "POST", "/ota/firmware", b"x", {})
    assert code == 501 and b"ESP32" in answer
    assert "firmware" not in board.status()


def test_an_app_sent_over_the_air_finds_its_own_templates_and_static_files(board, tmp_path):
    board.up()
    extra = ("from kiln import render_template\n"
             "def routes(app):\n"
             "    app.static('/static', 'static')\n"
             "    app.get('/page')(lambda request: render_template('page.html'))\n")
    src = make_app(tmp_path / "src-v2", "v2", extra)
    (src / "main.py").write_text((src / "main.py").read_text() + "routes(app)\n")
    (src / "static").mkdir()
    (src / "static" / "note.txt").write_text("from the slot")
    code, _ = board.upload(client.bundle(str(src)))
    assert code == 200
    board.reset_exit()
    board.up()
    assert board.get("/page") == (200, "<p>v2</p>")
    assert board.get("/static/note.txt") == (200, "from the slot")
