# Kiln's 32-bit device profile of the unix firmware (make unix-device). Needs Debian's
# gcc-multilib. No FFI (libffi is not multilib here, and no device has it), no btree, no
# _thread, as in boards/UNIX. ssl and hashlib from Mbed TLS as on the esp32, allocating from the
# MicroPython heap (mbedtls_config_board.h) so that TLS memory is measured with the rest.
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_FORCE_32BIT = 1
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 1
MICROPY_SSL_AXTLS = 0
MICROPY_SSL_MBEDTLS = 1
MBEDTLS_CONFIG_FILE = \"$(VARIANT_DIR)/mbedtls_config_board.h\"
MICROPY_PY_FFI = 0
MICROPY_PY_THREAD = 0
MICROPY_USE_READLINE ?= 1
