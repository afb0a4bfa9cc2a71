# Kiln's unix firmware. Debian's MicroPython source has no berkeley-db or mbedtls; ssl and
# hashlib.sha1 come from Mbed TLS, as on the esp32 (lib/mbedtls filled by tools/get-mbedtls.sh):
# a TLS server that today's clients accept (axtls, the ESP8266's, speaks TLS 1.2 without
# secure renegotiation or ECDHE, which OpenSSL 3 refuses by default).
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 1
MICROPY_SSL_AXTLS = 0
MICROPY_SSL_MBEDTLS = 1
MICROPY_PY_FFI = 0
MICROPY_USE_READLINE ?= 1
# No _thread: the server is one asyncio loop, as on the devices (the ESP8266 has no threads).
# Without it the port takes no mutex on each allocation and no thread-local lookup on each
# access to the interpreter's state (about a fifth of the time of a Python-heavy request).
MICROPY_PY_THREAD = 0
