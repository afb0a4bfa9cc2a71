# Kiln, frozen into every board: each board's manifest.py includes this file.
metadata(description="Kiln: a small, fast web framework for MicroPython", version="0.1.0")

# Every module of the package but kiln.testing, which only host-side tests use (the unix
# firmware's manifest adds it), and kiln.fwota, firmware OTA through esp32.Partition (the ESP32
# boards' esp32_manifest.py and the unix firmware add it); tests/test_esp8266_image.py checks
# that none is missing.
package(
    "kiln",
    files=[
        "__init__.py",
        "app.py",
        "auth.py",
        "client.py",
        "cors.py",
        "csrf.py",
        "dns.py",
        "hub.py",
        "mqtt.py",
        "multipart.py",
        "net.py",
        "ota.py",
        "outbox.py",
        "portal.py",
        "request.py",
        "response.py",
        "routing.py",
        "server.py",
        "session.py",
        "slots.py",
        "sse.py",
        "static.py",
        "template.py",
        "template_compiler.py",
        "template_filters.py",
        "text.py",
        "tls.py",
        "websocket.py",
    ],
    base_path="../modules",
)

import os  # noqa: E402

# Templates compiled at build time and frozen as kiln_templates: the folder named by the
# environment variable KILN_TEMPLATES (the Makefile's templates section sets it), see
# tools/templates_manifest.py, which a board's own manifest can include instead.
if os.environ.get("KILN_TEMPLATES"):
    include("../tools/templates_manifest.py", folder=os.environ["KILN_TEMPLATES"])

# The app-OTA key (kiln.ota): KILN_OTA_KEY at build time is frozen as the module kiln_ota_key,
# see tools/ota_key_manifest.py. Without it, the firmware refuses every upload (403).
if os.environ.get("KILN_OTA_KEY"):
    include("../tools/ota_key_manifest.py")
