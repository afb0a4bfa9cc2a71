#!/usr/bin/env python3
"""Update a board over the air (kiln.ota): `make ota APP=path/to/app HOST=192.168.1.23`.

    tools/ota.py APP HOST [--port 80] [--firmware] [--wait SECONDS]

APP is an app folder (what `make deploy` copies: its modules, packages, templates/ and static/,
see tools/app_files.py) or, with --firmware, a firmware image (ESP32 boards). The key is the
environment variable KILN_OTA_KEY, the one the board's firmware was built with. The tool asks
/ota/status for a nonce, sends the bundle with its sha256 and the HMAC the board checks, then
(with --wait) follows /ota/status until the board runs the new version or reports why not.
Exit status: 0 when the board took the update (and, with --wait, confirmed it)."""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from app_files import app_files  # noqa: E402


def bundle(folder):
    """The app bundle (bytes) of an app folder."""
    out = [b"KILN-APP 1\n"]
    for entry in app_files(folder):
        top = os.path.join(folder, entry)
        paths = [entry] if os.path.isfile(top) else [
            os.path.relpath(os.path.join(d, f), folder)
            for d, dirs, files in sorted(os.walk(top)) for f in sorted(files)
            if "__pycache__" not in d and not f.startswith(".")]
        for path in paths:
            with open(os.path.join(folder, path), "rb") as f:
                data = f.read()
            out.append(b"F %d %s\n" % (len(data), path.replace(os.sep, "/").encode()))
            out.append(data)
    out.append(b"E\n")
    return b"".join(out)


def mac(key, kind, nonce, digest, length):
    msg = "%s\n%s\n%s\n%d" % (kind, nonce, digest, length)
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def request(host, port, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def status(host, port):
    code, data = request(host, port, "GET", "/ota/status", timeout=10)
    if code != 200:
        raise SystemExit("ota: GET /ota/status answered %d: %s" % (code, data[:200]))
    return json.loads(data)


def upload(host, port, data, key, kind="app"):
    """POST the bundle or image; (status, parsed JSON answer)."""
    digest = hashlib.sha256(data).hexdigest()
    nonce = status(host, port)["nonce"]
    headers = {"Authorization": "Kiln-HMAC-SHA256 " + mac(key, kind, nonce, digest, len(data)),
               "X-Kiln-SHA256": digest, "Content-Type": "application/octet-stream"}
    code, answer = request(host, port, "POST", "/ota/" + kind, data, headers)
    try:
        return code, json.loads(answer)
    except ValueError:
        return code, {"error": answer.decode(errors="replace")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("app")
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--firmware", action="store_true", help="APP is a firmware image (ESP32)")
    ap.add_argument("--wait", type=float, default=0, help="seconds to follow /ota/status")
    args = ap.parse_args()
    key = os.environ.get("KILN_OTA_KEY")
    if not key:
        raise SystemExit("ota: set KILN_OTA_KEY to the key the board's firmware was built with")
    if args.firmware:
        with open(args.app, "rb") as f:
            data = f.read()
    else:
        data = bundle(args.app)
    kind = "firmware" if args.firmware else "app"
    try:
        code, answer = upload(args.host, args.port, data, key.encode(), kind)
    except OSError as e:
        raise SystemExit("ota: %s:%d: %s" % (args.host, args.port, e)) from None
    if code != 200:
        raise SystemExit("ota: the board refused the %s (%d): %s" % (kind, code, answer.get("error")))
    print("ota: %s of %d bytes (sha256 %s) accepted: %s; the board restarts" % (
        kind, len(data), answer["sha256"][:16], answer.get("slot") or answer.get("partition")))
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            st = status(args.host, args.port)["app"]
        except (OSError, SystemExit, ValueError):
            continue
        if kind == "firmware" or st["sha256"] == answer["sha256"] and not st["trial"]:
            print("ota: running: %s" % st["reason"])
            return
        if st["sha256"] != answer["sha256"]:
            raise SystemExit("ota: rolled back: %s" % st["reason"])
    if args.wait:
        raise SystemExit("ota: the board did not confirm the update within %g s" % args.wait)


if __name__ == "__main__":
    main()
