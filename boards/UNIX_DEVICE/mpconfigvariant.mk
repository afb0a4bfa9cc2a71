# Kiln's 32-bit device profile of the unix firmware (make unix-device). Needs Debian's
# gcc-multilib. No FFI (libffi is not multilib here, and no device has it), no btree, no SSL,
# no _thread, as in boards/UNIX.
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_FORCE_32BIT = 1
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_PY_FFI = 0
MICROPY_PY_THREAD = 0
MICROPY_USE_READLINE ?= 1
