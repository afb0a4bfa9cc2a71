"""examples/dashboard, the app `make run` serves: its pages, API, CSV, settings form (CSRF,
validation, atomic save), live updates and the relay over WebSocket and server-sent events, its
precompressed assets, the ESP32 device profile, and the page in a real browser (headless
Chromium from Debian)."""

import gzip
import importlib.util
import json
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from conftest import DEVICE_FIRMWARE, run_upy
from http_client import Conn

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "dashboard"
ARTIFACTS = ROOT / "build" / "test-artifacts"
WAIT = 30  # seconds: generous, for a loaded 2-core machine


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app_dir(tmp_path):
    """A copy of the example: the settings it saves stay out of the repository."""
    dest = tmp_path / "dashboard"
    shutil.copytree(APP, dest, ignore=shutil.ignore_patterns("settings.json*", "__pycache__"))
    return dest


class Client:
    """Keeps the CSRF cookie the server sets, like a browser."""

    def __init__(self, port):
        self.port = port
        self.cookie = None

    def request(self, path, method="GET", headers=(), body=b""):
        c = Conn(self.port, timeout=WAIT)
        headers = list(headers)
        if self.cookie:
            headers.append(("Cookie", self.cookie))
        headers.append(("Connection", "close"))
        c.request(path, method, headers, body)
        status, h, body, _ = c.response()
        c.close()
        if "set-cookie" in h:
            self.cookie = h["set-cookie"].split(";", 1)[0]
        return status, h, body

    def json(self, path):
        status, _, body = self.request(path)
        assert status == 200
        return json.loads(body)

    def token(self, path="/settings"):
        status, _, body = self.request(path)
        assert status == 200
        # the form's hidden field, or the page's <meta name="csrf-token">
        return re.search(rb'name="csrf[_-]token" (?:value|content)="([0-9a-f]{32})"', body).group(1).decode()

    def post_form(self, fields, token=None):
        if token is not None:
            fields = dict(fields, csrf_token=token)
        body = urllib.parse.urlencode(fields).encode()
        return self.request("/settings", "POST", [("Content-Type", "application/x-www-form-urlencoded")], body)


def wait_for(check, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail("waited %d s for %s" % (timeout, what))


GOOD = {"name": "Cellar", "interval": "5", "unit": "F", "alarm": "80"}


# --- pages and data -------------------------------------------------------------------------------

def test_the_page_shows_the_latest_reading_and_loads_its_assets(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    status, headers, body = client.request("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert re.search(rb'<span id="temperature">\d+\.\d</span><small>\xc2\xb0C</small>', body)
    assert b'href="/static/dashboard.css"' in body and b'src="/static/dashboard.js"' in body
    for path in ("/static/dashboard.css", "/static/dashboard.js"):
        assert client.request(path)[0] == 200


def test_api_readings_lists_the_history_oldest_first(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    data = wait_for(lambda: (lambda d: len(d["readings"]) >= 2 and d)(client.json("/api/readings")),
                    "two readings")
    assert data["unit"] == "C" and data["interval"] == 2
    times = [r["time"] for r in data["readings"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    for r in data["readings"]:
        assert 10 < r["temperature"] < 35 and 30 < r["humidity"] < 80


def test_api_state_reports_settings_relay_and_latest_reading(serve, app_dir):
    srv = serve(app_dir)
    state = Client(srv.port).json("/api/state")
    assert state["name"] == "Greenhouse" and state["unit"] == "C" and state["relay"] is False
    assert state["simulated"] is True and state["sensor_errors"] == 0
    assert state["latest"]["kind"] == "reading" and state["latest"]["unit"] == "C"
    assert abs(state["latest"]["time"] - time.time()) < 120  # Unix time


def test_history_csv_is_a_download_of_every_reading(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    wait_for(lambda: len(client.json("/api/readings")["readings"]) >= 2, "two readings")
    status, headers, body = client.request("/history.csv")
    assert status == 200 and headers["content-type"] == "text/csv; charset=UTF-8"
    assert headers["content-disposition"] == 'attachment; filename="history.csv"'
    lines = body.decode().split("\r\n")
    assert lines[0] == "time (UTC),temperature (C),humidity (%)" and lines[-1] == ""
    rows = [line.split(",") for line in lines[1:-1]]
    assert len(rows) >= 2
    for when, temperature, humidity in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", when)
        float(temperature), float(humidity)


def test_a_sensor_that_does_not_answer_is_counted_and_reported_to_the_pages(serve, app_dir):
    # measure() raises OSError, as dht does when the sensor's line stays quiet
    srv = serve(app_dir, setup="main.sensor.measure = lambda: open('/nonexistent/dht22'); ")
    events = EventStream(srv.port)
    assert events.until("reading") == {"kind": "error", "message": "The sensor did not answer."}
    events.conn.close()
    client = Client(srv.port)
    state = client.json("/api/state")
    assert state["sensor_errors"] >= 1 and state["latest"] is None
    assert client.json("/api/readings")["readings"] == []
    assert b'<span id="temperature">\xe2\x80\x93</span>' in client.request("/")[2]
    assert srv.alive()


def test_the_history_keeps_only_the_newest_readings(tmp_path):
    code = ("import history; h = history.History(3)\n"
            "for i in range(5): h.add(100 + i, 20 + i / 10, 50 + i)\n"
            "print(list(h.readings()), h.latest())")
    proc = run_upy(code, cwd=APP)
    assert proc.stdout.strip() == ("[(102, 20.2, 52.0), (103, 20.3, 53.0), (104, 20.4, 54.0)] "
                                   "(104, 20.4, 54.0)"), proc.stderr


# --- settings -------------------------------------------------------------------------------------

def test_bad_settings_are_refused_with_an_error_next_to_each_field(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    token = client.token()
    status, _, body = client.post_form({"name": "", "interval": "0", "unit": "K", "alarm": "warm"}, token)
    assert status == 400
    page = body.decode()
    for field, message in (("name", "1 to 32 characters."), ("interval", "Between 2 and 3600."),
                           ("unit", "Celsius or Fahrenheit."), ("alarm", "Enter a number.")):
        assert re.search(r'<input id="%s"|<select id="%s"' % (field, field), page)
        assert '<p class="error" id="%s-error">%s</p>' % (field, message) in page
    assert 'value="warm"' in page  # what was typed is kept
    assert not (app_dir / "settings.json").exists()
    assert client.json("/api/state")["name"] == "Greenhouse"


def test_a_post_without_the_csrf_token_is_refused(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    client.token()  # has the cookie, sends no token
    assert client.post_form(GOOD)[0] == 403
    assert client.post_form(GOOD, "0" * 32)[0] == 403
    relay = client.request("/api/relay", "POST", [("Content-Type", "application/json")], b'{"relay": true}')
    assert relay[0] == 403
    assert client.json("/api/state")["name"] == "Greenhouse"
    assert client.json("/api/state")["relay"] is False


def test_saved_settings_apply_at_once_and_survive_a_restart(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    status, headers, _ = client.post_form(GOOD, client.token())
    assert status == 303 and headers["location"] == "/settings?saved=1"
    assert b'id="saved"' in client.request("/settings?saved=1")[2]
    saved = json.loads((app_dir / "settings.json").read_text())
    assert saved == {"name": "Cellar", "interval": 5, "unit": "F", "alarm": 80.0}
    assert not (app_dir / "settings.json.tmp").exists()
    state = client.json("/api/state")
    assert (state["name"], state["unit"], state["interval"]) == ("Cellar", "F", 5)
    assert state["latest"]["unit"] == "F" and state["latest"]["temperature"] > 50
    srv.stop()
    again = Client(serve(app_dir).port).json("/api/state")
    assert (again["name"], again["unit"], again["interval"], again["alarm"]) == ("Cellar", "F", 5, 80.0)


def test_a_save_that_fails_midway_leaves_the_previous_settings_whole(serve, app_dir):
    previous = {"name": "Attic", "interval": 3, "unit": "C", "alarm": 25.0}
    (app_dir / "settings.json").write_text(json.dumps(previous))
    (app_dir / "settings.json.tmp").mkdir()  # the temporary file cannot be written
    srv = serve(app_dir)
    client = Client(srv.port)
    status, _, body = client.post_form(GOOD, client.token())
    assert status == 500 and b'<p class="error" id="save-error">Not saved:' in body
    assert json.loads((app_dir / "settings.json").read_text()) == previous
    assert client.json("/api/state")["name"] == "Attic"


# --- live updates and the relay -------------------------------------------------------------------

class EventStream:
    """GET /events, read event by event."""

    def __init__(self, port):
        self.conn = Conn(port, timeout=WAIT)
        self.conn.request("/events", headers=[("Accept", "text/event-stream")])
        status, headers, _, _ = self.conn.response(head_only=True)
        assert status == 200 and headers["content-type"] == "text/event-stream"
        self.text = ""

    def next(self):
        """(event, data) of the next event."""
        while True:
            while "\n\n" not in self.text:
                size = int(self.conn._line(), 16)
                self.text += self.conn._exactly(size + 2)[:-2].decode()
            block, self.text = self.text.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
            if fields:
                return fields.get("event"), json.loads(fields["data"])

    def until(self, event, check=lambda data: True):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            name, data = self.next()
            if name == event and check(data):
                return data
        pytest.fail("no %s event in %d s" % (event, WAIT))


def test_the_event_stream_sends_the_state_then_each_new_reading(serve, app_dir):
    srv = serve(app_dir)
    events = EventStream(srv.port)
    first = events.until("reading")
    assert events.until("relay") == {"kind": "relay", "on": False}
    later = events.until("reading", lambda d: d["time"] > first["time"])
    assert set(later) == {"kind", "time", "at", "temperature", "humidity", "unit", "alarm"}
    events.conn.close()


def test_switching_the_relay_is_echoed_to_every_open_stream(serve, app_dir):
    srv = serve(app_dir)
    streams = [EventStream(srv.port), EventStream(srv.port)]
    for s in streams:
        s.until("relay")
    client = Client(srv.port)
    token = client.token("/")
    status, _, body = client.request("/api/relay", "POST", [("Content-Type", "application/json"),
                                                           ("X-CSRF-Token", token)], b'{"relay": true}')
    assert status == 200 and json.loads(body) == {"kind": "relay", "on": True}
    for s in streams:
        assert s.until("relay") == {"kind": "relay", "on": True}
        s.conn.close()
    assert client.json("/api/state")["relay"] is True
    bad = client.request("/api/relay", "POST", [("Content-Type", "application/json"),
                                                ("X-CSRF-Token", token)], b'{"relay": "yes"}')
    assert bad[0] == 400


def ws_connect(srv, **options):
    from websockets.sync.client import connect

    return connect("ws://127.0.0.1:%d/ws" % srv.port, open_timeout=WAIT, close_timeout=WAIT, **options)


def ws_until(ws, kind, check=lambda m: True):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=WAIT))
        if message["kind"] == kind and check(message):
            return message
    pytest.fail("no %s message in %d s" % (kind, WAIT))


def test_the_websocket_sends_the_state_then_each_new_reading(serve, app_dir):
    srv = serve(app_dir)
    with ws_connect(srv) as ws:
        first = json.loads(ws.recv(timeout=WAIT))
        assert first["kind"] == "reading"
        assert json.loads(ws.recv(timeout=WAIT)) == {"kind": "relay", "on": False}
        later = ws_until(ws, "reading", lambda m: m["time"] > first["time"])
        assert set(later) == set(first)


def test_a_websocket_command_switches_the_relay_for_every_page(serve, app_dir):
    srv = serve(app_dir)
    with ws_connect(srv) as sender, ws_connect(srv) as other:
        events = EventStream(srv.port)
        for ws in (sender, other):
            ws_until(ws, "relay")
        events.until("relay")
        sender.send(json.dumps({"relay": True}))
        for ws in (sender, other):
            assert ws_until(ws, "relay") == {"kind": "relay", "on": True}
        assert events.until("relay") == {"kind": "relay", "on": True}
        events.conn.close()
        assert Client(srv.port).json("/api/state")["relay"] is True
        sender.send("switch it on")
        assert ws_until(sender, "error")["message"] == "unknown command"


def test_a_page_that_leaves_leaves_the_hub(serve, app_dir):
    srv = serve(app_dir)
    client = Client(srv.port)
    with ws_connect(srv) as ws:
        events = EventStream(srv.port)
        ws_until(ws, "relay")
        events.until("relay")
        wait_for(lambda: client.json("/api/state")["subscribers"] == 2, "two subscribers")
        events.conn.close()
    # a stream's client is seen gone at its next write: the next reading
    wait_for(lambda: client.json("/api/state")["subscribers"] == 0, "no subscriber left")


def test_a_websocket_opened_by_another_site_is_refused(serve, app_dir):
    from websockets.exceptions import InvalidStatus

    srv = serve(app_dir)
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(srv, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    with ws_connect(srv, origin="http://127.0.0.1:%d" % srv.port) as ws:
        assert json.loads(ws.recv(timeout=WAIT))["kind"] == "reading"


# --- assets and firmware --------------------------------------------------------------------------

def test_each_precompressed_asset_matches_its_source():
    sources = sorted(p for p in (APP / "static").iterdir() if p.suffix in (".css", ".js"))
    assert [p.name for p in sources] == ["dashboard.css", "dashboard.js"]
    for p in sources:
        packed = p.with_name(p.name + ".gz").read_bytes()
        assert gzip.decompress(packed) == p.read_bytes(), "run tools/gzip_static.py %s" % p.parent
    # what the tool writes depends on the bytes alone
    compress = _tool("gzip_static").compress
    assert compress(b"kiln" * 100) == compress(b"kiln" * 100)


def test_a_client_that_accepts_gzip_gets_the_precompressed_stylesheet(serve, app_dir):
    srv = serve(app_dir)
    status, headers, body = Client(srv.port).request("/static/dashboard.css", headers=[("Accept-Encoding", "gzip")])
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == (APP / "static" / "dashboard.css").read_bytes()


def test_the_templates_compile_for_freezing(tmp_path):
    out = _tool("compile_templates").compile_folder(str(APP / "templates"), str(tmp_path))
    modules = sorted(p.name for p in (Path(out) / "kiln_templates").glob("t_*.py"))
    assert modules == ["t_dashboard_html.py", "t_layout_html.py", "t_settings_html.py"]


MPY_CROSS = ROOT / "build" / "mpy-cross" / "mpy-cross"


def precompile_templates(app_dir, tmp_path):
    """Put the templates beside the app as the kiln_templates package in .mpy form: what a
    firmware built with APP=examples/dashboard freezes, here loaded into the heap instead (the
    device firmware of the tests freezes the blog's)."""
    out = Path(_tool("compile_templates").compile_folder(str(APP / "templates"), str(tmp_path / "tpl")))
    package = app_dir / "kiln_templates"
    package.mkdir()
    for source in (out / "kiln_templates").glob("*.py"):
        subprocess.run([str(MPY_CROSS), "-o", str(package / (source.stem + ".mpy")), str(source)], check=True)


@pytest.mark.skipif(not DEVICE_FIRMWARE.exists() or not MPY_CROSS.exists(), reason="make unix-device first")
def test_the_dashboard_serves_in_the_esp32_profile(serve, app_dir, tmp_path, record_property):
    from test_device_profiles import ESP32_HEAP, HEAP_SETUP, heap_after_import, heap_now, load

    precompile_templates(app_dir, tmp_path)
    # The device firmware is built without ssl, so its hashlib has no sha1 (the ESP32's and the
    # ESP8266's have one): kiln.websocket then takes the pure-Python one of _kiln_ws, which is
    # not frozen. Given here precompiled, it makes the figures below a little worse than a board's.
    subprocess.run([str(MPY_CROSS), "-o", str(app_dir / "_kiln_ws.mpy"), str(ROOT / "modules" / "_kiln_ws.py")],
                   check=True)
    srv = serve(app_dir, heapsize=ESP32_HEAP, firmware=DEVICE_FIRMWARE, setup=HEAP_SETUP,
                run_args=", max_connections=8")
    page = lambda s, h, b: s == 200 and b'id="temperature"' in b  # noqa: E731
    settings = lambda s, h, b: s == 200 and b'name="csrf_token"' in b  # noqa: E731
    api = lambda s, h, b: s == 200 and json.loads(b)["unit"] == "C"  # noqa: E731
    requests = [("GET", "/", b"", page), ("GET", "/settings", b"", settings),
                ("GET", "/api/readings", b"", api), ("GET", "/api/state", b"", api),
                ("GET", "/history.csv", b"", lambda s, h, b: s == 200)]
    with ws_connect(srv) as ws:  # two open pages during the load, one on each transport
        events = EventStream(srv.port)
        failed, conns = load(srv.port, requests, 4, total=500)
        assert failed == []
        after_import, after_serving = heap_after_import(srv), heap_now(conns[0])
        ws_until(ws, "reading")
        events.until("reading")
        events.conn.close()
    for c in conns:
        c.close()
    print("dashboard, -X heapsize=%s: %d B free after import, %d B after 500 requests on 4 connections"
          " beside a WebSocket and an event stream" % (ESP32_HEAP, after_import, after_serving))
    record_property("heap_free_after_import", after_import)
    record_property("heap_free_after_500_requests", after_serving)
    assert "not the frozen one" not in srv.console() and "MemoryError" not in srv.console()
    assert srv.alive()


# --- in a browser: headless Chromium from Debian, driven by Selenium ------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's chromium and chromium-driver: never a downloaded browser)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("no /usr/bin/chromium or /usr/bin/chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--window-size=1100,900"):
        options.add_argument(arg)
    # the driver's path given: Selenium Manager (which could download one) is not run
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def until(driver, condition, what):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(lambda d: condition(d), "waited for " + what)


def text(driver, element_id):
    return driver.find_element("id", element_id).text


TRANSPORTS = {"websocket": "live (WebSocket)", "sse": "live (server-sent events)"}


def open_dashboard(driver, url, transport="websocket"):
    """Load the page in the current window; with transport="sse", in a browser without
    WebSocket, so that the page falls back to server-sent events."""
    script = None
    if transport == "sse":
        script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
            "source": "Object.defineProperty(window, 'WebSocket', {value: undefined});"})["identifier"]
    try:
        driver.get(url + "/")
    finally:
        if script is not None:
            driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script})
    until(driver, lambda d: text(d, "transport") == TRANSPORTS[transport], TRANSPORTS[transport])


def screenshot(driver, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 0
    return path


def test_browser_a_new_reading_appears_without_reload(serve, app_dir, browser):
    srv = serve(app_dir)
    open_dashboard(browser, srv.url)
    browser.execute_script("document.body.dataset.loaded = 'once'")  # gone if the page reloads
    first = text(browser, "updated")
    until(browser, lambda d: text(d, "updated") not in (first, "never"), "a newer reading")
    assert browser.execute_script("return document.body.dataset.loaded") == "once"
    assert re.fullmatch(r"\d+\.\d", text(browser, "temperature"))
    until(browser, lambda d: re.search(r", ([2-9]|\d\d+) readings$", text(d, "range")), "two readings in the chart")
    assert len(browser.find_element("id", "line-temperature").get_attribute("points").split()) >= 2
    screenshot(browser, "dashboard-desktop.png")
    browser.set_window_size(390, 844)
    try:
        screenshot(browser, "dashboard-phone.png")
    finally:
        browser.set_window_size(1100, 900)


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_browser_the_switch_toggles_on_a_second_open_page(serve, app_dir, browser, transport):
    srv = serve(app_dir)
    open_dashboard(browser, srv.url, transport)
    first = browser.current_window_handle
    browser.switch_to.new_window("window")
    try:
        open_dashboard(browser, srv.url, transport)
        assert not browser.find_element("id", "relay").is_selected()
        browser.find_element("css selector", "label.switch").click()
        until(browser, lambda d: text(d, "relay-label") == "On", "the switch on this page")
        browser.switch_to.window(first)
        until(browser, lambda d: d.find_element("id", "relay").is_selected(), "the switch on the other page")
        assert text(browser, "relay-label") == "On"
        assert Client(srv.port).json("/api/state")["relay"] is True
        screenshot(browser, "dashboard-relay-on-%s.png" % transport)
    finally:
        for handle in browser.window_handles:
            if handle != first:
                browser.switch_to.window(handle)
                browser.close()
        browser.switch_to.window(first)


def test_browser_a_bad_setting_shows_its_error(serve, app_dir, browser):
    srv = serve(app_dir)
    browser.get(srv.url + "/settings")
    field = browser.find_element("id", "interval")
    field.clear()
    field.send_keys("0")
    browser.find_element("css selector", "form button[type=submit]").click()
    until(browser, lambda d: d.find_elements("id", "interval-error"), "the interval's error")
    assert text(browser, "interval-error") == "Between 2 and 3600."
    assert browser.find_element("id", "interval").get_attribute("value") == "0"
    assert not browser.find_elements("id", "name-error")
    screenshot(browser, "settings-error.png")
    # a good value is saved
    field = browser.find_element("id", "interval")
    field.clear()
    field.send_keys("7")
    browser.find_element("css selector", "form button[type=submit]").click()
    until(browser, lambda d: d.find_elements("id", "saved"), "the saved notice")
    assert Client(srv.port).json("/api/state")["interval"] == 7
