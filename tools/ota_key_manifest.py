# Manifest helper: freeze the app-OTA key of the environment variable KILN_OTA_KEY (text; at
# least 16 characters) as the module kiln_ota_key (KEY = b"..."), which kiln.ota reads. The
# module is written to build/ota-key/ (rewritten only when the key changes) and never committed;
# the key is in the image, so treat a built image as a secret of the boards it is flashed to.
# boards/manifest.py includes this file when KILN_OTA_KEY is set.
import os

_key = os.environ["KILN_OTA_KEY"]
if len(_key) < 16:
    raise SystemExit("KILN_OTA_KEY: use at least 16 characters (e.g. `openssl rand -hex 16`)")
_out = os.path.abspath("../build/ota-key")
os.makedirs(_out, exist_ok=True)
_text = "KEY = %r\n" % _key.encode()
_path = os.path.join(_out, "kiln_ota_key.py")
if not os.path.exists(_path) or open(_path).read() != _text:
    with open(_path, "w") as _f:
        _f.write(_text)
module("kiln_ota_key.py", base_path=_out)  # noqa: F821 - makemanifest provides module()
