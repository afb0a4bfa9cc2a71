"""The ESP8266 image booted in the emulated ESP8266 (tools/emulate.py: QEMU's esp8266 machine with
Espressif's boot ROM from ../shared/vendor/esp8266-qemu): it reaches the REPL, imports Kiln, and
an App answers requests parsed by _kiln.Parser, with the device's real 32-bit heap.

The emulator has no network model: the socket loop on the device is not exercised here (the
unix firmware's socket tests and the 32-bit device profile cover it), so a pass says the image
boots and Kiln runs on the chip's CPU and heap, not that a board serves over Wi-Fi."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import emulate  # noqa: E402

IMAGE = ROOT / "firmware" / "ESP8266_GENERIC" / "firmware.bin"
MPY_CROSS = ROOT / "build" / "mpy-cross" / "mpy-cross"
BOOT_SECONDS = 10

pytestmark = pytest.mark.skipif(
    not (IMAGE.exists() and os.path.exists(emulate.QEMU)),
    reason="needs firmware/ESP8266_GENERIC (make esp8266) and the emulator (make qemu)",
)

# Runs on the device: one request through the C parser and the App, its body drained.
SERVE = """
import _kiln, asyncio
def serve(app, raw):
    res = app.handle(_kiln.Parser(request_class=getattr(app, '_request', None)).feed(raw))
    if type(res) is not tuple:
        async def wait(x):
            return await x
        res = asyncio.run(wait(res))
    status, headers, body = res
    if type(body) is str:
        body = body.encode()
    elif type(body) is dict or type(body) is list:  # the loop writes it as JSON
        import json
        body = json.dumps(body).encode()
    elif type(body) is not bytes:
        body = b''.join(c.encode() if type(c) is str else bytes(c) for c in body)
    return status, body
"""


@pytest.fixture
def device():
    """A freshly booted emulated ESP8266 (about 1.5 s)."""
    with emulate.Emulator(str(IMAGE), boot_timeout=30) as emu:
        yield emu


def test_the_image_boots_to_the_repl_within_seconds(device):
    assert device.boot_seconds < BOOT_SECONDS
    assert b"MicroPython v1.25.0" in device.boot_log


def test_the_firmware_is_the_kiln_esp8266_build(device):
    out = device.run("import sys; print(sys.implementation._build, sys.platform)")
    assert out.split() == ["ESP8266_GENERIC", "esp8266"]


def test_every_frozen_kiln_module_imports(device):
    names = sorted(n[:-3] for n in os.listdir(ROOT / "modules" / "kiln")
                   if n.endswith(".py") and n not in ("testing.py", "fwota.py"))
    # one at a time, each with what it imports (all of them at once outgrow the chip's heap, as
    # no app needs them all)
    out = device.run(
        "import gc, sys, kiln\n"
        "for n in %r:\n"
        "    __import__('kiln.' + n)\n"
        "    for m in [m for m in sys.modules if m.startswith('kiln.')]:\n"
        "        del sys.modules[m]\n"
        "        kiln.__dict__.pop(m[5:], None)\n"
        "    gc.collect()\n"
        "print('ok')\n" % names)
    assert out.strip() == "ok"


def test_kiln_testing_is_left_out_of_the_device_image(device):
    assert device.run("try:\n    import kiln.testing\nexcept ImportError:\n    print('absent')\n").strip() == "absent"


def test_an_app_answers_json_template_and_error_requests(device, capsys):
    free = "import gc\ngc.collect()\nprint(gc.mem_free())"
    heap = {"boot": int(device.run(free))}
    heap["import"] = int(device.run("from kiln import App, abort, render_template\n" + free))
    script = SERVE + """
import json
app = App()
@app.get('/items/<int:item_id>')
def item(request, item_id):
    if item_id != 42:
        abort(404)
    return {'id': item_id, 'name': 'lamp'}
@app.get('/post')
def post(request):
    return render_template('post.html', post={'id': 1, 'title': 'On <ESP8266>', 'author': 'ann',
                                              'tags': ['kiln'], 'body': 'b'})
out = []
for path in ('/items/42', '/items/7', '/post', '/nope'):
    status, body = serve(app, b'GET ' + path.encode() + b' HTTP/1.1\\r\\nHost: esp\\r\\n\\r\\n')
    out.append([status, body.decode()])
print(json.dumps(out))
"""
    item, missing, page, unknown = json.loads(device.run(script))
    heap["requests"] = int(device.run(free))
    with capsys.disabled():
        print("\nemulated ESP8266, gc.mem_free(): after boot %(boot)d B, after importing kiln's App %(import)d B, "
              "after four requests %(requests)d B" % heap)
    assert item == [200, '{"id": 42, "name": "lamp"}']
    assert missing[0] == 404
    assert page[0] == 200 and "<h1>On &lt;ESP8266&gt;</h1>" in page[1]
    assert unknown[0] == 404
    assert heap["boot"] > heap["import"] > 24_000
    assert heap["requests"] > 17_000


# tests/device/ modules that fit the chip's heap and use no folder it lacks (test_routing's
# module alone is too large for 36 KB of heap; test_static needs /tmp). kiln.testing is not in
# device images, so it is uploaded with them. test_client runs kiln.client's URL handling on
# the chip (no network in the emulator).
ON_CHIP = ("test_parser", "test_request_class", "test_request", "test_response", "test_modules", "test_client")


@pytest.mark.parametrize("module", ON_CHIP)
def test_in_firmware_tests_pass_on_the_chip(device, tmp_path, module):
    sources = {"runner": ROOT / "tests" / "device" / "runner.py", "testing": ROOT / "modules" / "kiln" / "testing.py",
               module: ROOT / "tests" / "device" / (module + ".py")}
    for name, source in sources.items():
        mpy = tmp_path / (name + ".mpy")
        subprocess.run([MPY_CROSS, "-o", mpy, source], check=True)
        device.upload(name + ".mpy", mpy.read_bytes())
    out = device.run("import sys, testing\nsys.modules['kiln.testing'] = testing\n"
                     "import runner\nrunner.main(%r)" % module, timeout=120)
    summary = out.strip().splitlines()[-1]
    passed, failed = (int(part.split()[0]) for part in summary.split(","))
    assert failed == 0 and passed > 1, out


# The ESP8266's C stack is 8 KB (mp_stack_set_limit(8192) in the port), and littlefs calls need
# much of it: what Kiln's dispatch takes between app.handle and a view or hook is a budget
# (today's figure, an after hook's 1,776 B, plus a small margin).
DISPATCH_STACK_BUDGET = 1900


def test_the_c_stack_kiln_takes_to_reach_a_view_stays_within_budget(device):
    script = SERVE + """
import micropython
from kiln import App
app = App()
seen = {}
@app.get('/')
def view(request):
    request.args
    seen['view'] = micropython.stack_use()
    return 'x'
@app.after_request
def after(request, response):
    seen['after'] = micropython.stack_use()
def measure():
    seen['base'] = micropython.stack_use()
    serve(app, b'GET / HTTP/1.1\\r\\nHost: e\\r\\n\\r\\n')
measure()
print(seen['view'] - seen['base'], seen['after'] - seen['base'])
"""
    view, after = (int(n) for n in device.run(script).split())
    assert 0 < view <= DISPATCH_STACK_BUDGET and 0 < after <= DISPATCH_STACK_BUDGET, (view, after)


# Life in the field (kiln.dns, kiln.net, kiln.portal, kiln.slots, kiln.ota) on the chip: each
# module imports on a freshly booted ESP8266, and what it costs the heap is a budget (today's
# figures plus a small margin; kiln.portal imports kiln.App, whose cost is counted in its own;
# kiln.ota imports kiln.App when it builds its endpoints and kiln.session on the first upload,
# where an app has them already). No network in the emulator: the DNS answer and an app bundle's unpacking to
# littlefs run without sockets.
# kiln.mqtt (3,344) and kiln.outbox (720) report from the field, and so does kiln.client (3,984,
# of which asyncio 2,368 and kiln.text 240, which an app that serves has imported already).
FIELD_HEAP_BUDGET = {"kiln.dns": 700, "kiln.net": 800, "kiln.slots": 1_300, "kiln.portal": 11_500,
                     "kiln.ota": 1_300, "kiln.mqtt": 3_600, "kiln.outbox": 900, "kiln.client": 4_300}


@pytest.mark.parametrize("module", sorted(FIELD_HEAP_BUDGET))
def test_field_modules_import_on_the_chip_within_their_heap_budget(device, module, capsys):
    out = device.run("import gc\ngc.collect()\nb = gc.mem_free()\nimport %s\ngc.collect()\nprint(b - gc.mem_free())"
                     % module)
    cost = int(out.strip().splitlines()[-1])
    with capsys.disabled():
        print("\nemulated ESP8266: import %s costs %d B of heap" % (module, cost))
    assert 0 < cost <= FIELD_HEAP_BUDGET[module], cost


def test_the_dns_responder_answers_a_query_on_the_chip(device):
    query = "abcd01000001000000000000076578616d706c6503636f6d0000010001"
    out = device.run("import binascii, kiln.dns\n"
                     "r = kiln.dns.answer(binascii.unhexlify(%r), bytes((192, 168, 4, 1)))\n"
                     "print(binascii.hexlify(r).decode())" % query)
    reply = bytes.fromhex(out.strip())
    assert reply[:2] == b"\xab\xcd" and reply[2] & 0x80 and reply[7] == 1 and reply.endswith(b"\xc0\xa8\x04\x01")


def test_an_app_bundle_streams_into_a_slot_on_the_chips_littlefs(device):
    sys.path.insert(0, str(ROOT / "tools"))
    import ota as client
    app = ROOT / "examples" / "hello"
    bundle = client.bundle(str(app))
    script = """
import asyncio, binascii, os, kiln.ota as ota
class Req:
    body = binascii.a2b_base64(%r)
b = ota.Body(Req(), len(Req.body))
ota.rmtree('app_b')
paths = asyncio.run(ota.unpack(b, 'app_b'))
print(paths, binascii.hexlify(b.sha.digest()).decode(), os.stat('app_b/main.py')[6])
ota.rmtree('app_b')
print('gone' if 'app_b' not in os.listdir() else 'left')
""" % __import__("base64").b64encode(bundle).decode()
    out = device.run(script, timeout=60).strip().splitlines()
    assert out[-1] == "gone"
    assert out[-2].endswith("%s %d" % (__import__("hashlib").sha256(bundle).hexdigest(),
                                       (app / "main.py").stat().st_size))
    assert "main.py" in out[-2]


def test_an_authenticated_upload_is_written_and_switched_through_kilns_dispatch_on_the_chip(device):
    # The whole path of POST /ota/app (the C parser, App dispatch, the view's awaits, littlefs
    # writes, sha256 and the state's rename) within the chip's 8 KB C stack and 36 KB heap.
    sys.path.insert(0, str(ROOT / "tools"))
    import hashlib

    import ota as client
    bundle = client.bundle(str(ROOT / "examples" / "hello"))
    digest = hashlib.sha256(bundle).hexdigest()
    auth = client.mac(b"k" * 32, "app", "n" * 32, digest, len(bundle))
    raw = (b"POST /ota/app HTTP/1.1\r\nHost: esp\r\nContent-Length: %d\r\nX-Kiln-SHA256: %s\r\n"
           b"Authorization: Kiln-HMAC-SHA256 %s\r\n\r\n" % (len(bundle), digest.encode(), auth.encode())) + bundle
    script = SERVE + """
import binascii, gc, json, os, kiln.ota as ota, kiln.slots as slots
ota.key = b'k' * 32
ota.reset_delay = 3600
ota._nonce[0] = 'n' * 32
st = slots.load()
handle, config = ota.handler(None, st, {})
class Shim:
    handle = staticmethod(handle)
status, body = serve(Shim, binascii.a2b_base64(%r))
gc.collect()
print(json.dumps([status, body.decode(), slots.load()['current'], os.stat('app_b/main.py')[6], gc.mem_free()]))
ota.rmtree('app_b')
os.remove('ota.json')
""" % __import__("base64").b64encode(raw).decode()
    status, body, current, size, free = json.loads(device.run(script, timeout=60).strip().splitlines()[-1])
    assert status == 200 and json.loads(body)["sha256"] == digest, body
    assert current == "b" and size == (ROOT / "examples" / "hello" / "main.py").stat().st_size
    assert free > 10_000


def test_the_outbox_keeps_records_on_the_chips_littlefs_with_its_own_crc32(device):
    # The ESP8266 build has no binascii.crc32: kiln.outbox's own CRC32 frames the records.
    out = device.run(
        "import binascii, os\nfrom kiln.outbox import Outbox\n"
        "box = Outbox('/outbox')\nbox.segment_size = 128\n"
        "for i in range(20):\n    box.put(b'reading %d' % i)\nbox.ack(5)\n"
        "box = Outbox('/outbox')\n"
        "print(hasattr(binascii, 'crc32'), box.pending, box.peek(2), len(os.listdir('/outbox')))\n")
    assert out.strip() == "False 15 [b'reading 5', b'reading 6'] 4", out
