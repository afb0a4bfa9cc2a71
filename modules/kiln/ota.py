# Over-the-air updates: the /ota/ endpoints kiln.slots serves beside the app.
#
#   GET  /ota/status     what runs, what ran before, why (a rollback's reason), and a nonce
#   POST /ota/app        a new app bundle (tools/ota.py makes one), into the other app slot
#   POST /ota/firmware   a firmware image, into the next OTA partition (ESP32; kiln.fwota)
#
# An upload carries `Authorization: Kiln-HMAC-SHA256 <hex>`, the HMAC-SHA256 with the board's
# key of "<kind>\n<nonce>\n<sha256 hex>\n<length>", and `X-Kiln-SHA256: <sha256 hex>`. No
# header: 401; a wrong MAC, or no key in this firmware: 403, before a byte is written. The
# nonce changes after every authenticated upload, so a recorded upload cannot be replayed.
# The body streams to flash in small chunks (never whole in RAM) while its sha256 is computed;
# a body whose length or sha256 differs from what the MAC covers is discarded and the running
# app is untouched. The key is set when the firmware is built (KILN_OTA_KEY, frozen as the
# module kiln_ota_key) or by the app, as `kiln.ota.key`.
#
# The app bundle, streamed: b"KILN-APP 1\n", then per file b"F <size> <path>\n" and its bytes,
# then b"E\n". Paths are relative, with no "." or ".." segment; main.py must be among them.
import binascii
import hashlib
import os

#: The HMAC key (bytes); None refuses every upload.
key = None
try:
    from kiln_ota_key import KEY as key  # noqa: F811 - frozen at build time from KILN_OTA_KEY
except ImportError:
    pass
#: Largest app bundle accepted (bytes).
max_bundle = 512 * 1024
#: Largest firmware image accepted (bytes); the partition's size bounds it too.
max_firmware = 4 * 1024 * 1024
#: Most files in a bundle, and the longest path.
max_files = 64
max_path = 96
#: Seconds between answering a successful upload and resetting into it.
reset_delay = 1
#: Called with the name of each step of an update ("staging", "written", "verified",
#: "swapped"): a test's way in (it kills the process there to simulate a power cut).
on_step = None

_nonce = [None]
_CHUNK = 512


def nonce():
    if _nonce[0] is None:
        _nonce[0] = binascii.hexlify(os.urandom(16)).decode()
    return _nonce[0]


def _step(name):
    if on_step is not None:
        on_step(name)


def mac(k, kind, n, digest, length):
    """The MAC an upload of ``kind`` ("app", "firmware") with nonce ``n`` must carry (hex)."""
    from kiln.session import hmac_sha256  # imported on the first upload, not at boot

    msg = "%s\n%s\n%s\n%d" % (kind, n, digest, length)
    return binascii.hexlify(hmac_sha256(k, msg.encode())).decode()


class Refused(Exception):
    def __init__(self, status, reason):
        self.status = status
        self.reason = reason


def authorize(request, kind, limit):
    """(sha256 hex, length) of an authenticated upload, or Refused."""
    auth = request.headers.get("Authorization") or ""
    if not auth.startswith("Kiln-HMAC-SHA256 "):
        raise Refused(401, "an upload needs Authorization: Kiln-HMAC-SHA256 <mac>")
    if not key:
        raise Refused(403, "no OTA key in this firmware (build it with KILN_OTA_KEY)")
    digest = (request.headers.get("X-Kiln-SHA256") or "").lower()
    length = request.content_length
    if len(digest) != 64 or length is None:
        raise Refused(400, "X-Kiln-SHA256 and Content-Length are required")
    from kiln.session import same

    expected = mac(key, kind, nonce(), digest, length)
    if not same(expected.encode(), auth[17:].strip().lower().encode()):
        raise Refused(403, "wrong key or stale nonce: GET /ota/status for a fresh one")
    _nonce[0] = None  # one upload per nonce
    if length > limit:
        raise Refused(413, "%d bytes is over the limit of %d" % (length, limit))
    return digest, length


class Body:
    """The request body in chunks, hashed as it is read; Refused(400) if it ends early."""

    def __init__(self, request, length):
        self.request = request
        self.left = length
        self.sha = hashlib.sha256()
        self.memory = request.body  # a small body arrives whole
        self.pos = 0

    async def read(self, n=_CHUNK):
        if self.left <= 0:
            raise Refused(400, "the bundle ends in the middle of an entry")
        n = min(n, self.left)
        if self.memory is not None:
            chunk = self.memory[self.pos:self.pos + n]
            self.pos += len(chunk)
        else:
            chunk = await self.request.stream.read(n)
        if not chunk:
            raise Refused(400, "the upload ended %d bytes early" % self.left)
        self.left -= len(chunk)
        self.sha.update(chunk)
        return chunk

    async def line(self):
        out = b""
        while not out.endswith(b"\n"):
            if len(out) > max_path + 16:
                raise Refused(400, "bad bundle: header line too long")
            out += await self.read(1)
        return out[:-1].decode()


def rmtree(path):
    # Without recursion: a bundle's folders may nest deeper than the ESP8266's 8 KB C stack allows.
    folders, stack = [], [path]
    while stack:
        folder = stack.pop()
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        folders.append(folder)
        for name in names:
            p = folder + "/" + name
            if os.stat(p)[0] & 0x4000:
                stack.append(p)
            else:
                os.remove(p)
    for folder in reversed(folders):
        os.rmdir(folder)


def _safe(path):
    if not path or len(path) > max_path or path[0] == "/" or "\\" in path or "\x00" in path:
        return False
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return False
    return True


def _makedirs(base, path):
    parts = path.split("/")[:-1]
    for i in range(len(parts)):
        try:
            os.mkdir(base + "/" + "/".join(parts[:i + 1]))
        except OSError:
            pass


async def unpack(body, dest):
    """Write the bundle in ``body`` into the folder ``dest``; the paths written."""
    if await body.line() != "KILN-APP 1":
        raise Refused(400, "not a Kiln app bundle")
    os.mkdir(dest)
    paths = []
    while True:
        head = await body.line()
        if head == "E":
            break
        fields = head.split(" ", 2)
        if len(fields) != 3 or fields[0] != "F" or not fields[1].isdigit() or not _safe(fields[2]):
            raise Refused(400, "bad bundle entry: %r" % head[:40])
        if len(paths) >= max_files:
            raise Refused(413, "more than %d files" % max_files)
        size, path = int(fields[1]), fields[2]
        _makedirs(dest, path)
        with open(dest + "/" + path, "wb") as f:
            while size:
                chunk = await body.read(min(size, _CHUNK))
                f.write(chunk)
                size -= len(chunk)
        paths.append(path)
    if body.left:
        raise Refused(400, "bytes after the end of the bundle")
    if "main.py" not in paths:
        raise Refused(400, "the bundle has no main.py")
    return paths


async def receive_app(request, st):
    """Stream an app bundle into the other slot, verify it, switch to it: (status, dict)."""
    from kiln import slots

    digest, length = authorize(request, "app", max_bundle)
    slot = slots.other(st["current"])
    dest = slots.folder(slot)
    # The other slot is about to be overwritten: it is no longer a version to roll back to.
    st["previous"] = st["previous_sha256"] = None
    slots.save(st)
    rmtree(dest)
    _step("staging")
    body = Body(request, length)
    try:
        paths = await unpack(body, dest)
        _step("written")
        got = binascii.hexlify(body.sha.digest()).decode()
        if got != digest:
            raise Refused(400, "sha256 mismatch: the upload is %s, its MAC covers %s" % (got, digest))
    except OSError as e:
        rmtree(dest)
        return 507, {"error": "could not write the app (%s): the filesystem may be full" % e}
    except BaseException:
        rmtree(dest)
        raise
    _step("verified")
    new = {"current": slot, "previous": st["current"], "trial": True, "booted": 0,
           "reason": "%s uploaded (%d bytes, sha256 %s), on trial" % (dest, length, digest[:16]),
           "sha256": digest, "previous_sha256": st.get("sha256")}
    slots.save(new)  # the switch: one rename
    st.clear()
    st.update(new)
    _step("swapped")
    return 200, {"slot": slots.name(slot), "files": len(paths), "sha256": digest, "restarting": True}


def status(st):
    out = {"app": {"current": st.get("current"), "previous": st.get("previous"), "trial": bool(st.get("trial")),
                   "reason": st.get("reason"), "sha256": st.get("sha256")},
           "nonce": nonce(), "key": bool(key)}
    try:
        from esp32 import Partition
    except ImportError:
        return out
    run = Partition(Partition.RUNNING)
    out["firmware"] = {"running": run.info()[4], "next": run.get_next_update().info()[4]}
    return out


def handler(app, st, config):
    """The server handler for ``app`` (None: only /ota/) with the /ota/ endpoints, and the server
    config that lets their uploads through."""
    import json

    from kiln import App

    ota = App()
    # Uploads stream: a large body is never held in memory (the app's own limits stay as set).
    ota._request.max_content_length = max(max_bundle, max_firmware)
    limit = app._request.max_content_length if app is not None else 16 * 1024
    config.setdefault("max_body", max(limit, max_bundle, max_firmware))
    if app is not None:
        config.setdefault("body_in_memory", app._request.max_body_length)

    def answer(status, data):
        return json.dumps(data), status, {"Content-Type": "application/json", "Cache-Control": "no-store"}

    @ota.get("/ota/status")
    def get_status(request):
        return answer(200, status(st))

    async def upload(request, receive):
        try:
            code, data = await receive(request, st)
        except Refused as e:
            headers = {"WWW-Authenticate": "Kiln-HMAC-SHA256"} if e.status == 401 else {}
            print("kiln.ota: refused (%d): %s" % (e.status, e.reason))
            r = answer(e.status, {"error": e.reason})
            r[2].update(headers)
            return r
        if code == 200:
            import asyncio

            from kiln import slots

            async def later():
                await asyncio.sleep(reset_delay)
                slots._reset()

            asyncio.create_task(later())
        return answer(code, data)

    @ota.post("/ota/app")
    async def post_app(request):
        return await upload(request, receive_app)

    @ota.post("/ota/firmware")
    async def post_firmware(request):
        try:
            import kiln.fwota as fwota
        except ImportError:  # no kiln.fwota on this board, or no esp32 module
            return answer(501, {"error": "firmware OTA needs an ESP32 board (esp32.Partition)"})
        return await upload(request, fwota.receive)

    if app is None:
        @ota.get("/")
        def no_app(request):
            return "No app yet: upload one with `make ota APP=... HOST=...`. See /ota/status.\n"

    config["request_class"] = (app or ota)._request

    def handle(creq):
        # the request made of the app's class becomes one of ota's (its limits, request.app)
        if app is None or creq.path.startswith("/ota/"):
            return ota.handle(ota._request(creq))
        return app.handle(creq)

    return handle, config
