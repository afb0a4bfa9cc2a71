# _kiln for the make-based ports (unix, esp8266). Every .c file in this folder is part of it.
KILN_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += $(wildcard $(KILN_MOD_DIR)/*.c)
CFLAGS_USERMOD += -I$(KILN_MOD_DIR)
