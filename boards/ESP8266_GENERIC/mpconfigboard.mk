# ESP8266 module with 2 MiB of flash or more, with Kiln.
LD_FILES = boards/esp8266_2MiB.ld

MICROPY_PY_ESPNOW ?= 0
MICROPY_PY_BTREE ?= 0
MICROPY_VFS_FAT ?= 0
MICROPY_VFS_LFS2 ?= 1

FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py

# Selects the 2 MiB feature set in mpconfigboard.h.
CFLAGS += -DMICROPY_ESP8266_2M

# libmain's exception-vector objects, which tools/build-esp8266.sh names on the link line (with
# binutils 2.40 the port's EXTERN() lines do not pull them from the archive). It also passes
# LD_FILES: a copy of the port's script that places _kiln in flash (tools/esp8266/kiln_ld.py).
LIBS += $(KILN_LINK_OBJECTS)
