# ESP8266 module with 2 MiB of flash or more, with Kiln.
LD_FILES = boards/esp8266_2MiB.ld

MICROPY_PY_ESPNOW ?= 0
MICROPY_PY_BTREE ?= 0
MICROPY_VFS_FAT ?= 0
MICROPY_VFS_LFS2 ?= 1

FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py

# Selects the 2 MiB feature set in mpconfigboard.h.
CFLAGS += -DMICROPY_ESP8266_2M
