# Kiln's unix firmware. Debian's MicroPython source has no berkeley-db or mbedtls; ssl and
# hashlib.sha1 come from axtls, as on the ESP8266 (lib/axtls filled from the v1.25.0 pin).
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 1
MICROPY_SSL_AXTLS = 1
MICROPY_SSL_MBEDTLS = 0
MICROPY_PY_FFI = 0
MICROPY_USE_READLINE ?= 1
# No _thread: the server is one asyncio loop, as on the devices (the ESP8266 has no threads).
# Without it the port takes no mutex on each allocation and no thread-local lookup on each
# access to the interpreter's state (about a fifth of the time of a Python-heavy request).
MICROPY_PY_THREAD = 0
