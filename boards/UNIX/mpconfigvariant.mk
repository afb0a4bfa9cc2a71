# Kiln's unix firmware. Debian's MicroPython source has no berkeley-db or mbedtls; SSL is
# available with the system's mbedtls (MICROPY_PY_SSL=1 MICROPY_SSL_MBEDTLS=1) but off by default.
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_PY_FFI = 0
MICROPY_USE_READLINE ?= 1
# No _thread: the server is one asyncio loop, as on the devices (the ESP8266 has no threads).
# Without it the port takes no mutex on each allocation and no thread-local lookup on each
# access to the interpreter's state (about a fifth of the time of a Python-heavy request).
MICROPY_PY_THREAD = 0
