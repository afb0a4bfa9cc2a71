# Kiln's unix firmware. Debian's MicroPython source has no berkeley-db or mbedtls; SSL is
# available with the system's mbedtls (MICROPY_PY_SSL=1 MICROPY_SSL_MBEDTLS=1) but off by default.
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_PY_FFI = 0
MICROPY_USE_READLINE ?= 1
