"""Getting a board online: kiln.net and the set-up portal (kiln.portal) end to end over HTTP in
the unix firmware, with `network` and `machine` replaced by unix stand-ins (tests/standins/)
that record what the device would do. Real sockets on 127.0.0.1; the portal's DNS on a free
UDP port."""

import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse

import dns.message
import dns.query
import pytest
from conftest import FIRMWARE, ROOT, free_port

STANDINS = ROOT / "tests" / "standins"
SECRET = "correct horse battery"
WORLD = {"networks": [{"ssid": "Home <5G>", "password": SECRET, "rssi": -40},
                      {"ssid": "Neighbour", "password": "whatever12", "rssi": -80}],
         "ip": "192.168.1.23"}
AP_IP = "192.168.4.1"

# What each OS expects when there is no portal; the portal must not give it.
PROBES = {
    "/generate_204": "connectivitycheck.gstatic.com",
    "/gen_204": "clients3.google.com",
    "/hotspot-detect.html": "captive.apple.com",
    "/library/test/success.html": "www.apple.com",
    "/connecttest.txt": "www.msftconnecttest.com",
    "/ncsi.txt": "www.msftncsi.com",
    "/redirect": "www.msftconnecttest.com",
    "/canonical.html": "detectportal.firefox.com",
    "/success.txt": "detectportal.firefox.com",
}


class Board:
    """The unix firmware running `kiln.net.up()` in a folder standing for the board's flash."""

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.dns_port = free_port()
        (folder / "network_standin.json").write_text(json.dumps(WORLD))
        code = ("import sys\nsys.path.insert(0, %r)\nimport kiln.portal, kiln.net\n"
                "kiln.portal.host = '127.0.0.1'\nkiln.portal.dns_port = %d\nkiln.portal.linger = 0.5\n"
                "kiln.net.connect_timeout = 1\n"
                "print('UP', kiln.net.up(port=%d))\n" % (str(STANDINS), self.dns_port, self.port))
        self.log = open(folder / "console.log", "w")
        self.proc = subprocess.Popen([str(FIRMWARE), "-c", code], cwd=folder,
                                     env=dict(os.environ, KILN_STANDIN_FLASH=str(folder)), stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def console(self):
        self.log.flush()
        return (self.folder / "console.log").read_text()

    def events(self):
        path = self.folder / "network_log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wait_http(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.console()
            try:
                self.request("GET", "/")
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("portal did not answer:\n" + self.console())

    def request(self, method, path, host=AP_IP, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        h = {"Host": host}
        h.update(headers or {})
        if body is not None:
            body = urllib.parse.urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        res = conn.getresponse()
        data = res.read().decode()
        conn.close()
        return res, data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def board(tmp_path):
    boards = []

    def start():
        b = Board(tmp_path)
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.stop()


def form_token(res, page):
    cookie = res.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([0-9a-f]{32})"', page).group(1)
    return cookie, token


def test_with_no_saved_network_the_board_opens_its_access_point_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    events = b.events()
    assert ["ap", "active", True] in events
    config = [e for e in events if e[:2] == ["ap", "config"]][0][2]
    assert config == {"essid": "Kiln-123456", "authmode": 0}
    assert "set-up network Kiln-123456, open http://192.168.4.1/" in b.console()


@pytest.mark.parametrize("path", sorted(PROBES))
def test_each_os_probe_gets_a_redirect_to_the_set_up_page_on_the_unix_stand_in(board, path):
    b = board()
    b.wait_http()
    res, body = b.request("GET", path, host=PROBES[path])
    assert res.status == 302 and res.getheader("Location") == "http://192.168.4.1/"
    # not the 204 (Android) nor the 200 with a known body (Apple, Windows, Firefox) of no portal
    assert "Success" not in body and "Microsoft" not in body and "success" not in body


def test_any_other_page_or_host_is_sent_to_the_set_up_page_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    for host, path in (("example.org", "/"), ("example.org", "/some/page?x=1"), (AP_IP, "/nope")):
        res, _ = b.request("GET", path, host=host)
        assert (res.status, res.getheader("Location")) == (302, "http://192.168.4.1/")


def test_the_portals_dns_answers_every_name_with_the_access_points_address_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    res = dns.query.udp(dns.message.make_query("captive.apple.com", "A"), "127.0.0.1", port=b.dns_port, timeout=2)
    assert res.answer[0][0].address == AP_IP


def test_the_set_up_page_lists_the_networks_escaped_strongest_first_with_a_csrf_token_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    res, page = b.request("GET", "/")
    assert res.status == 200 and res.getheader("Content-Type").startswith("text/html")
    assert page.index('value="Home &lt;5G&gt;"') < page.index('value="Neighbour"')
    assert "<5G>" not in page
    assert 'type="password"' in page and re.search(r'name="csrf_token" value="[0-9a-f]{32}"', page)
    assert "csrf_token=" in res.getheader("Set-Cookie")


def test_saving_without_the_csrf_token_is_refused_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    res, page = b.request("GET", "/")
    cookie, token = form_token(res, page)
    res, _ = b.request("POST", "/save", body={"ssid": "Home <5G>", "password": SECRET},
                       headers={"Cookie": cookie})
    assert res.status == 403
    res, _ = b.request("POST", "/save", body={"ssid": "Home <5G>", "password": SECRET, "csrf_token": "0" * 32},
                       headers={"Cookie": cookie})
    assert res.status == 403
    assert not (b.folder / "wifi.json").exists()
    assert not any(e[:2] == ["sta", "connect"] for e in b.events())


def test_a_wrong_password_shows_the_form_again_and_saves_nothing_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    res, page = b.request("GET", "/")
    cookie, token = form_token(res, page)
    res, page = b.request("POST", "/save", body={"ssid": "Home <5G>", "password": "wrong password",
                                                   "csrf_token": token}, headers={"Cookie": cookie})
    assert res.status == 200 and "Could not join Home &lt;5G&gt;" in page
    assert "wrong password" not in page
    assert not (b.folder / "wifi.json").exists()
    assert b.proc.poll() is None


def test_bad_fields_are_refused_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    res, page = b.request("GET", "/")
    cookie, token = form_token(res, page)
    for fields in ({"ssid": ""}, {"ssid": "x" * 33}, {"ssid": "Home", "password": "short"},
                   {"ssid": "Home", "password": SECRET, "hostname": "no_underscores"}):
        res, _ = b.request("POST", "/save", body=dict(fields, csrf_token=token), headers={"Cookie": cookie})
        assert res.status == 400, fields


def test_saving_joins_shows_the_new_address_stores_the_credentials_and_leaves_ap_mode_on_the_unix_stand_in(board):
    b = board()
    b.wait_http()
    res, page = b.request("GET", "/")
    cookie, token = form_token(res, page)
    res, page = b.request("POST", "/save", body={"ssid": "Home <5G>", "password": SECRET, "hostname": "kitchen",
                                                   "csrf_token": token}, headers={"Cookie": cookie})
    assert res.status == 200 and "http://192.168.1.23:%d/" % b.port in page and SECRET not in page
    b.proc.wait(10)
    console = b.console()
    assert "UP ['http://192.168.1.23:%d/']" % b.port in console
    assert SECRET not in console
    events = b.events()
    assert ["hostname", "kitchen"] in events
    assert ["sta", "connect", "Home <5G>", "<%d chars>" % len(SECRET)] in events
    assert events[-1] == ["ap", "active", False]
    saved = json.loads((b.folder / "wifi.json").read_text())
    assert saved == {"ssid": "Home <5G>", "password": SECRET, "hostname": "kitchen"}
    assert not (b.folder / "wifi.json.tmp").exists()


def test_with_a_saved_network_the_board_joins_it_without_an_access_point_on_the_unix_stand_in(board, tmp_path):
    (tmp_path / "wifi.json").write_text(json.dumps({"ssid": "Home <5G>", "password": SECRET}))
    b = board()
    b.proc.wait(10)
    assert "UP ['http://192.168.1.23:%d/']" % b.port in b.console()
    assert not any(e[0] == "ap" for e in b.events())
    assert SECRET not in b.console()


def test_a_failing_saved_network_is_retried_with_back_off_then_the_portal_opens_on_the_unix_stand_in(board, tmp_path):
    (tmp_path / "wifi.json").write_text(json.dumps({"ssid": "Home <5G>", "password": "changed since"}))
    b = board()
    start = time.monotonic()
    b.wait_http(timeout=15)
    assert time.monotonic() - start >= 3  # pauses of 1 s then 2 s between the three attempts
    console = b.console()
    assert console.count("could not join 'Home <5G>'") == 3 and "changed since" not in console
    assert ["ap", "active", True] in b.events()


def test_the_credentials_file_is_replaced_atomically():
    # kiln.net.save writes wifi.json.tmp then renames it: a reader sees the old file or the new.
    code = ("import os, kiln.net as n\n"
            "os.chdir(%r)\n"
            "n.config_path = 'w.json'\nn.save('a', 'p1')\nn.save('b', 'p2', 'h')\n"
            "print(sorted(f for f in os.listdir('.') if f.startswith('w.json')), n.load())\n")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([str(FIRMWARE), "-c", code % d], capture_output=True, text=True, timeout=10).stdout
    assert out.strip() == "['w.json'] {'ssid': 'b', 'password': 'p2', 'hostname': 'h'}"


def test_a_new_board_is_set_up_from_a_phone_then_serves_its_app_on_the_unix_stand_in(tmp_path):
    # The whole boot of a device's main.py (kiln.slots.run): no saved network, so the portal;
    # once joined, the app of slot a on the same port.
    (tmp_path / "network_standin.json").write_text(json.dumps(WORLD))
    (tmp_path / "app_a").mkdir()
    (tmp_path / "app_a" / "main.py").write_text(
        "from kiln import App\napp = App()\n@app.get('/')\ndef index(request):\n    return 'the app'\n")
    port, dns_port = free_port(), free_port()
    code = ("import sys\nsys.path.insert(0, %r)\nimport kiln.portal, kiln.slots\n"
            "kiln.portal.host = '127.0.0.1'\nkiln.portal.dns_port = %d\nkiln.portal.linger = 0.5\n"
            "kiln.slots.run(port=%d, host='127.0.0.1')\n" % (str(STANDINS), dns_port, port))
    log = open(tmp_path / "console.log", "w")
    proc = subprocess.Popen([str(FIRMWARE), "-c", code], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, KILN_STANDIN_FLASH=str(tmp_path)))
    b = Board.__new__(Board)
    b.port, b.proc, b.folder = port, proc, tmp_path
    b.log = log
    try:
        b.wait_http()
        res, page = b.request("GET", "/")
        assert "Kiln-123456 set-up" in page
        cookie, token = form_token(res, page)
        res, page = b.request("POST", "/save", body={"ssid": "Home <5G>", "password": SECRET, "csrf_token": token},
                              headers={"Cookie": cookie})
        assert res.status == 200 and "Joined Home &lt;5G&gt;" in page
        deadline = time.monotonic() + 10
        while True:
            try:
                if b.request("GET", "/", host="192.168.1.23")[1] == "the app":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, b.console()
            time.sleep(0.1)
        assert "Kiln: serving on http://192.168.1.23:%d/" % port in b.console()
        assert ["ap", "active", False] in b.events()
    finally:
        b.stop()
