# Kiln: every entry point. `make help` lists them.
#
# Build outputs go to build/ (work folders) and firmware/<BOARD>/ (images); the MicroPython
# tree is obtained once into build/micropython and never modified.

SHELL := /bin/bash
TOP := $(abspath .)
BUILD_ROOT := $(TOP)/build
MP_DIR := $(BUILD_ROOT)/micropython
MPY_CROSS := $(BUILD_ROOT)/mpy-cross/mpy-cross
# micropython-lib is not needed (asyncio lives in extmod); the build only checks for a README.
MPY_LIB_DIR := $(BUILD_ROOT)/micropython-lib-empty
VENV := $(TOP)/.venv
PY := $(VENV)/bin/python
JOBS ?= $(shell nproc)

# Keep the MicroPython tree pristine and its version string honest.
export PYTHONDONTWRITEBYTECODE := 1
# (also above the tree's real path: git compares real paths, and build/micropython may be a
# symlink to a MICROPYTHON_DIR inside another checkout)
export GIT_CEILING_DIRECTORIES := $(BUILD_ROOT)$(if $(realpath $(MP_DIR)),:$(patsubst %/,%,$(dir $(realpath $(MP_DIR)))))

BOARD ?= ESP32_GENERIC
PORT ?= /dev/ttyUSB0
APP ?= examples/dashboard
HOST ?= 127.0.0.1
HTTP_PORT ?= 8080

UNIX_BUILD := $(BUILD_ROOT)/unix
UNIX_FW := $(TOP)/firmware/UNIX/kiln
KILN_C := $(wildcard cmodules/kiln/*.c cmodules/kiln/*.h)
KILN_PY := $(shell find modules boards -name '*.py' 2>/dev/null)

.PHONY: help micropython submodules mpy-cross vendor unix unix-asan run test test-c test-asan test-py fuzz fuzz-ws \
        fuzz-server check-xtensa \
        esp32 esp8266 emulate size flash deploy repl bench lint deps venv clean distclean

help:
	@echo "make run            build the unix firmware and serve $(APP) on http://$(HOST):$(HTTP_PORT)"
	@echo "make test           build everything the tests need and run every test"
	@echo "make unix           build firmware/UNIX/kiln"
	@echo "make unix-device    build firmware/UNIX_DEVICE/kiln (32-bit, ESP8266 feature level)"
	@echo "make esp32 BOARD=…  build firmware/<BOARD>/ (needs ESP-IDF v5.2-v5.4)"
	@echo "make esp8266        build firmware/ESP8266_GENERIC/ (Debian's xtensa-lx106 toolchain, vendored SDK)"
	@echo "make emulate        boot firmware/ESP8266_GENERIC/ in the emulated ESP8266 (QEMU) to its REPL"
	@echo "make size           the device budgets: IRAM, irom0, _kiln per object, frozen kiln, heap"
	@echo "make flash BOARD=… PORT=…   write firmware/<BOARD>/ to a device with esptool"
	@echo "make deploy APP=… PORT=…    copy an app's files (modules, templates/, static/) to a device"
	@echo "make repl PORT=…    open the device's REPL with mpremote"
	@echo "make check-xtensa   cross-compile the C core for the ESP8266 and print its sizes"
	@echo "make cert [CERT_HOSTS=…]   a self-signed development certificate in certs/ (HTTPS: app.run(ssl=…))"
	@echo "make bench          run the benchmarks, write bench/RESULTS.md"
	@echo "make fuzz FUZZ_SECONDS=…    fuzz the HTTP parser"
	@echo "make test-c         the parser's C tests (gcc and clang, ASan/UBSan) and a 30 s fuzz run"
	@echo "make unix-asan      build firmware/UNIX_ASAN/kiln (AddressSanitizer + UBSan)"
	@echo "make test-asan      the socket-loop, framework, example and in-firmware tests on it, and 2 x 20 s of server fuzzing"
	@echo "make fuzz-server FUZZ_SECONDS=… [FUZZ_APP=framework] [FUZZ_HEAP=64k]   fuzz the running ASan server over sockets"
	@echo "make test-server    the socket loop's tests (real sockets)"
	@echo "make bench-parser   the parser benchmark alone (host C core; _kiln.Parser vs pure Python)"
	@echo "make templates APP=…        check that an app's templates compile"
	@echo "make docs           build the guide and API reference into build/site (MkDocs, strict, offline)"
	@echo "make typecheck      mypy over the examples against the stubs in stubs/"
	@echo "make unix-stock     build a stock unix MicroPython (no Kiln) for mip and the pure-Python _kiln"
	@echo "make test-fallback  the socket-loop, framework and example suites on stock MicroPython + _kiln.py"

# --- set-up -------------------------------------------------------------------------------

deps:
	@tools/ensure-debs.sh bench
deps-run:
	@tools/ensure-debs.sh run
deps-test:
	@tools/ensure-debs.sh test

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	@# a venv left without pip by a failed creation (no python3-venv) is made again
	@$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && python3 -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# --- MicroPython --------------------------------------------------------------------------

micropython: $(MP_DIR)/py/mpconfig.h
$(MP_DIR)/py/mpconfig.h:
	@tools/get-micropython.sh $(MP_DIR)

submodules: micropython
	@test -d $(MP_DIR)/.git || { echo "make submodules: $(MP_DIR) is not a git clone (Debian's source has no submodules); the ESP ports need a GitHub clone of v1.25.0, set MICROPYTHON_DIR to one"; exit 1; }
	$(MAKE) -C $(MP_DIR)/ports/esp32 submodules
	$(MAKE) -C $(MP_DIR)/ports/esp8266 submodules

mpy-cross: $(MPY_CROSS)
$(MPY_CROSS): | $(MP_DIR)/py/mpconfig.h
	$(MAKE) -s -C $(MP_DIR)/mpy-cross BUILD=$(BUILD_ROOT)/mpy-cross -j$(JOBS)

$(MPY_LIB_DIR)/README.md:
	@mkdir -p $(MPY_LIB_DIR)
	@echo "Kiln builds without micropython-lib." > $@

# build/vendor: micropython-lib, axtls and the ESP8266 SDK at v1.25.0's pins (tools/get-vendor.sh).
VENDOR := $(BUILD_ROOT)/vendor
vendor: $(VENDOR)/micropython-lib/README.md
$(VENDOR)/micropython-lib/README.md:
	@tools/get-vendor.sh $(VENDOR)

# The unix and ESP8266 firmware have ssl and hashlib.sha1 from axtls: its pin fills lib/axtls of
# the MicroPython tree when that is empty (Debian's source), as `git submodule update` would.
AXTLS := $(MP_DIR)/lib/axtls/ssl/ssl.h
$(AXTLS): | $(VENDOR)/micropython-lib/README.md $(MP_DIR)/py/mpconfig.h
	@echo "filling $(MP_DIR)/lib/axtls from the v1.25.0 pin"
	@rm -rf $(MP_DIR)/lib/axtls && cp -a $(VENDOR)/axtls $(MP_DIR)/lib/axtls

# The unix firmware has ssl and hashlib from Mbed TLS (as the esp32 port): tools/get-mbedtls.sh
# fills lib/mbedtls of the MicroPython tree when that is empty (Debian's source).
MBEDTLS := $(MP_DIR)/lib/mbedtls/include/mbedtls/ssl.h
$(MBEDTLS): | $(MP_DIR)/py/mpconfig.h
	@tools/get-mbedtls.sh $(BUILD_ROOT)/mbedtls
	@echo "filling $(MP_DIR)/lib/mbedtls"
	@rm -rf $(MP_DIR)/lib/mbedtls && mv $(BUILD_ROOT)/mbedtls $(MP_DIR)/lib/mbedtls

# Arguments every port build shares.
PORT_ARGS = USER_C_MODULES=$(TOP)/cmodules MICROPY_MPYCROSS=$(MPY_CROSS) MPY_LIB_DIR=$(VENDOR)/micropython-lib

# --- unix ---------------------------------------------------------------------------------

# Like the ESP boards: requests, umqtt, mip, logging and aiohttp frozen from the vendored
# micropython-lib (boards/UNIX/manifest.py), ssl and hashlib.sha1 from axtls, whose pin fills
# lib/axtls of the MicroPython tree when that is empty (as `git submodule update` would).
unix: $(UNIX_FW)
$(UNIX_FW): $(MPY_CROSS) $(VENDOR)/micropython-lib/README.md $(MBEDTLS) $(KILN_C) $(KILN_PY) $(wildcard boards/UNIX/*) FORCE
	@# the port rebuilds nothing when only the variant's settings change: start over then
	@cat boards/UNIX/mpconfigvariant.* | cmp -s - $(UNIX_BUILD)/kiln-variant || rm -rf $(UNIX_BUILD)
	@mkdir -p $(UNIX_BUILD) && cat boards/UNIX/mpconfigvariant.* > $(UNIX_BUILD)/kiln-variant
	$(MAKE) -s -C $(MP_DIR)/ports/unix -j$(JOBS) BUILD=$(UNIX_BUILD) VARIANT_DIR=$(TOP)/boards/UNIX \
		$(PORT_ARGS)
	@mkdir -p $(dir $@)
	@cmp -s $(UNIX_BUILD)/micropython $@ || { cp $(UNIX_BUILD)/micropython $@.tmp && mv -f $@.tmp $@; }

FORCE:

# The same firmware under AddressSanitizer and UBSan (build/unix-asan, firmware/UNIX_ASAN/kiln):
# memory errors anywhere in _kiln (loop, binding, parser) abort the process with a report.
# The GC scans the C stack (gc_get_ptr is no_sanitize_address), so ASan's fake stacks stay off
# (asan-use-after-return=0, as in MicroPython's own CI); MP_ASAN=1 as there too; not stripped.
UNIX_ASAN_BUILD := $(BUILD_ROOT)/unix-asan
UNIX_ASAN_FW := $(TOP)/firmware/UNIX_ASAN/kiln
ASAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize=nonnull-attribute -fno-sanitize-recover=undefined \
               --param asan-use-after-return=0 -fno-omit-frame-pointer -g -DMP_ASAN=1 -DMP_UBSAN=1
ASAN_LDFLAGS := -fsanitize=address,undefined -fno-sanitize=nonnull-attribute --param asan-use-after-return=0
# halt_on_error: the first report ends the process, so a test sees the server die.
ASAN_RUN_ENV := ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0:halt_on_error=1:abort_on_error=0 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

unix-asan: $(UNIX_ASAN_FW)
$(UNIX_ASAN_FW): $(UNIX_FW) $(KILN_C) $(KILN_PY) $(wildcard boards/UNIX/*) FORCE
	@cat boards/UNIX/mpconfigvariant.* | cmp -s - $(UNIX_ASAN_BUILD)/kiln-variant || rm -rf $(UNIX_ASAN_BUILD)
	@mkdir -p $(UNIX_ASAN_BUILD) && cat boards/UNIX/mpconfigvariant.* > $(UNIX_ASAN_BUILD)/kiln-variant
	$(MAKE) -s -C $(MP_DIR)/ports/unix -j$(JOBS) BUILD=$(UNIX_ASAN_BUILD) VARIANT_DIR=$(TOP)/boards/UNIX \
		$(PORT_ARGS) STRIP= CFLAGS_EXTRA="$(ASAN_CFLAGS)" LDFLAGS_EXTRA="$(ASAN_LDFLAGS)"
	@mkdir -p $(dir $@)
	@cmp -s $(UNIX_ASAN_BUILD)/micropython $@ || { cp $(UNIX_ASAN_BUILD)/micropython $@.tmp && mv -f $@.tmp $@; }

run: deps-run $(UNIX_FW)
	@echo "Kiln: serving $(APP); open http://$(HOST):$(HTTP_PORT)/ in a browser (Ctrl-C stops)"
	@cd $(APP) && $(UNIX_FW) -c "import sys; sys.path.insert(0, '.'); import main; main.app.run(host='$(HOST)', port=$(HTTP_PORT))"

# --- tests --------------------------------------------------------------------------------

test: deps-test venv $(UNIX_FW) unix-device check-xtensa esp8266-image qemu test-c test-asan lint typecheck docs unix-stock test-fallback
	$(PY) -m pytest -q tests

# The loop, framework, example and in-firmware tests on the ASan firmware, then the socket-level
# fuzzer against it for FUZZ_SERVER_SECONDS (a sanitizer report fails the test that saw it).
ASAN_TESTS := tests/test_server_loop.py tests/test_app_framework.py tests/test_app_microdot_port.py \
              tests/test_app_start_server.py $(wildcard tests/test_examples_*.py) tests/test_parser_binding.py \
              tests/test_parser_diff.py tests/test_json_body.py tests/test_send_file.py tests/device
FUZZ_SERVER_SECONDS ?= 20
test-asan: venv $(UNIX_ASAN_FW)
	KILN_FIRMWARE=$(UNIX_ASAN_FW) $(ASAN_RUN_ENV) $(PY) -m pytest -q $(ASAN_TESTS)
	$(ASAN_RUN_ENV) $(PY) tests/fuzz/fuzz_server.py --app loop --seconds $(FUZZ_SERVER_SECONDS) --firmware $(UNIX_ASAN_FW)
	$(ASAN_RUN_ENV) $(PY) tests/fuzz/fuzz_server.py --app framework --seconds $(FUZZ_SERVER_SECONDS) --firmware $(UNIX_ASAN_FW)

# make fuzz-server FUZZ_SECONDS=600 [FUZZ_APP=framework] [FUZZ_HEAP=64k]: the socket-level fuzzer
# alone, on the ASan firmware, against the bare loop's test app or the framework's.
FUZZ_APP ?= loop
fuzz-server: venv $(UNIX_ASAN_FW)
	$(ASAN_RUN_ENV) $(PY) tests/fuzz/fuzz_server.py --app $(FUZZ_APP) --seconds $(FUZZ_SECONDS) \
		--firmware $(UNIX_ASAN_FW) $(if $(FUZZ_HEAP),--heapsize $(FUZZ_HEAP))

lint: venv
	$(VENV)/bin/ruff check .

# --- ESP8266 cross-compile check ------------------------------------------------------------

check-xtensa: $(MPY_CROSS) $(MPY_LIB_DIR)/README.md
	@tools/check-xtensa.sh $(MP_DIR) $(BUILD_ROOT)/esp8266-check $(TOP)/cmodules

# --- device builds ------------------------------------------------------------------------

BOARDS := $(notdir $(patsubst %/,%,$(dir $(wildcard boards/*/manifest.py))))
check-board:
	@test -d boards/$(BOARD) -a -n "$(BOARD)" || { echo "no board folder boards/$(BOARD); the boards are: $(BOARDS)" >&2; exit 1; }

esp32: check-board $(MPY_CROSS) $(MPY_LIB_DIR)/README.md
	@tools/build-esp32.sh $(MP_DIR) $(TOP)/boards/$(BOARD) $(BUILD_ROOT)/$(BOARD) $(TOP)/firmware/$(BOARD)

# The ESP8266 image is built here from Debian's toolchain and the vendored inputs
# (tools/build-esp8266.sh says what it needs); `make test` builds it once and checks it.
ESP8266_FW := $(TOP)/firmware/ESP8266_GENERIC
esp8266: venv $(MPY_CROSS) $(MPY_LIB_DIR)/README.md $(AXTLS)
	@tools/build-esp8266.sh $(MP_DIR) $(TOP)/boards/ESP8266_GENERIC $(BUILD_ROOT)/ESP8266_GENERIC $(ESP8266_FW)

# Rebuilt only when a source that goes into it changed.
.PHONY: esp8266-image
esp8266-image: $(ESP8266_FW)/firmware.bin
$(ESP8266_FW)/firmware.bin: $(KILN_C) $(KILN_PY) $(wildcard boards/ESP8266_GENERIC/* tools/build-esp8266.sh tools/esp8266/* $(UNIX_TEMPLATES)/*) | venv $(MPY_CROSS) $(MPY_LIB_DIR)/README.md $(AXTLS)
	@tools/build-esp8266.sh $(MP_DIR) $(TOP)/boards/ESP8266_GENERIC $(BUILD_ROOT)/ESP8266_GENERIC $(ESP8266_FW)

# The emulated ESP8266: QEMU with an esp8266 machine and the boot ROM, from ../shared/vendor
# (KILN_VENDOR); nothing of it is committed or put in an image.
KILN_VENDOR ?= $(abspath $(TOP)/../shared/vendor)
QEMU := $(BUILD_ROOT)/qemu/qemu-system-xtensa
export KILN_VENDOR
qemu: $(QEMU)
$(QEMU):
	@test -f $(KILN_VENDOR)/esp8266-qemu/qemu-system-xtensa.xz || { echo "qemu: $(KILN_VENDOR)/esp8266-qemu/ not found (set KILN_VENDOR)"; exit 1; }
	@mkdir -p $(dir $@) && xz -dc $(KILN_VENDOR)/esp8266-qemu/qemu-system-xtensa.xz > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@

emulate: $(QEMU) esp8266-image
	$(PY) tools/emulate.py --interactive $(ESP8266_FW)/firmware.bin

size: venv $(UNIX_FW) esp8266-image $(QEMU)
	$(PY) bench/device_budgets.py

flash: venv check-board
	@tools/flash.sh $(TOP)/firmware/$(BOARD) $(PORT)

deploy: venv
	@tools/deploy.sh $(APP) $(PORT)

repl: venv
	@test -e $(PORT) || { echo "make repl: no device at $(PORT) (set PORT=...)"; exit 1; }
	$(VENV)/bin/mpremote connect $(PORT) repl

# --- benchmarks ---------------------------------------------------------------------------

bench: deps venv $(UNIX_FW) unix-device esp8266-image $(QEMU) unix-stock
	$(PY) bench/run.py

# --- housekeeping -------------------------------------------------------------------------

clean:
	rm -rf $(UNIX_BUILD) $(UNIX_ASAN_BUILD) $(BUILD_ROOT)/mpy-cross $(BUILD_ROOT)/esp8266-check firmware/*/kiln

distclean:
	rm -rf build firmware/*/* $(VENV)

# --- templates ----------------------------------------------------------------------------
# The templates folder compiled and frozen into each firmware (boards/manifest.py reads
# KILN_TEMPLATES; empty freezes none). The unix firmware carries the blog example's, which the
# tests and the benchmark render; device builds freeze the templates of APP when it has some.
UNIX_TEMPLATES ?= $(TOP)/examples/blog/templates
$(UNIX_FW): export KILN_TEMPLATES = $(UNIX_TEMPLATES)
$(UNIX_ASAN_FW): export KILN_TEMPLATES = $(UNIX_TEMPLATES)
# The ESP8266 image that `make test` checks freezes the same templates as the unix firmware;
# `make esp8266 APP=path/to/app` or `make esp32 ... APP=...` freezes that app's.
ifeq ($(origin APP),command line)
esp32 esp8266: export KILN_TEMPLATES = $(wildcard $(abspath $(APP))/templates)
else
esp32: export KILN_TEMPLATES =
esp8266 $(ESP8266_FW)/firmware.bin: export KILN_TEMPLATES = $(UNIX_TEMPLATES)
endif

.PHONY: templates
templates: venv
	$(PY) tools/compile_templates.py $(APP)/templates $(BUILD_ROOT)/templates/check

# --- parser -------------------------------------------------------------------------------
# The C parser core (cmodules/kiln/kiln_http.c) tested on the host:
#   make test-c                 builds tests/c/test_http.c with gcc and with clang under
#                               -fsanitize=address,undefined, runs both, then fuzzes for 30 s
#   make fuzz FUZZ_SECONDS=600  runs the libFuzzer target (clang 14, -fsanitize=fuzzer,address,
#                               undefined) on build/parser/corpus, seeded from tests/fuzz/corpus;
#                               a crash is saved as build/parser/crash-*
#   make bench-parser           bench/parser.py: host -O2 bench, then _kiln.Parser against the
#                               pure-Python bench/parser/pyparser.py in the firmware (Markdown)
PARSER_BUILD := $(BUILD_ROOT)/parser
PARSER_C := cmodules/kiln/kiln_http.c
PARSER_DEPS := $(PARSER_C) cmodules/kiln/kiln_http.h
WS_C := cmodules/kiln/kiln_ws.c
WS_DEPS := $(WS_C) cmodules/kiln/kiln_ws.h
SAN_CFLAGS := -std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=all -Icmodules/kiln
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 600

.PHONY: bench-parser

test-c: $(PARSER_BUILD)/test_http_gcc $(PARSER_BUILD)/test_http_clang $(PARSER_BUILD)/fuzz_http \
        $(PARSER_BUILD)/test_ws_gcc $(PARSER_BUILD)/test_ws_clang $(PARSER_BUILD)/fuzz_ws
	$(PARSER_BUILD)/test_http_gcc
	$(PARSER_BUILD)/test_http_clang
	$(PARSER_BUILD)/test_ws_gcc
	$(PARSER_BUILD)/test_ws_clang
	@$(MAKE) -s fuzz FUZZ_SECONDS=30
	@$(MAKE) -s fuzz-ws FUZZ_SECONDS=20

$(PARSER_BUILD)/test_http_gcc $(PARSER_BUILD)/test_http_clang: $(PARSER_BUILD)/test_http_%: tests/c/test_http.c tests/c/check.h $(PARSER_DEPS)
	@mkdir -p $(dir $@)
	$* $(SAN_CFLAGS) tests/c/test_http.c $(PARSER_C) -o $@

$(PARSER_BUILD)/fuzz_http: tests/fuzz/fuzz_http.c $(PARSER_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -Icmodules/kiln -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		tests/fuzz/fuzz_http.c $(PARSER_C) -o $@

$(PARSER_BUILD)/test_ws_gcc $(PARSER_BUILD)/test_ws_clang: $(PARSER_BUILD)/test_ws_%: tests/c/test_ws.c tests/c/check.h $(WS_DEPS)
	@mkdir -p $(dir $@)
	$* $(SAN_CFLAGS) tests/c/test_ws.c $(WS_C) -o $@

$(PARSER_BUILD)/fuzz_ws: tests/fuzz/fuzz_ws.c $(WS_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -Icmodules/kiln -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		tests/fuzz/fuzz_ws.c $(WS_C) -o $@

# The WebSocket framing core's fuzzer (its corpus starts empty: libFuzzer finds frames fast).
fuzz-ws: $(PARSER_BUILD)/fuzz_ws
	@mkdir -p $(PARSER_BUILD)/corpus-ws
	@echo "fuzz-ws: $(FUZZ_SECONDS) s, log in $(PARSER_BUILD)/fuzz-ws.log"
	@$(PARSER_BUILD)/fuzz_ws -max_total_time=$(FUZZ_SECONDS) -max_len=2000 -print_final_stats=1 \
		-artifact_prefix=$(PARSER_BUILD)/ $(PARSER_BUILD)/corpus-ws >$(PARSER_BUILD)/fuzz-ws.log 2>&1 \
		&& grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' $(PARSER_BUILD)/fuzz-ws.log \
		|| { tail -60 $(PARSER_BUILD)/fuzz-ws.log; exit 1; }

fuzz: $(PARSER_BUILD)/fuzz_http
	@mkdir -p $(PARSER_BUILD)/corpus
	@echo "fuzz: $(FUZZ_SECONDS) s, log in $(PARSER_BUILD)/fuzz.log"
	@$(PARSER_BUILD)/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=4200 -print_final_stats=1 \
		-dict=tests/fuzz/http.dict \
		-artifact_prefix=$(PARSER_BUILD)/ $(PARSER_BUILD)/corpus tests/fuzz/corpus >$(PARSER_BUILD)/fuzz.log 2>&1 \
		&& grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' $(PARSER_BUILD)/fuzz.log \
		|| { tail -60 $(PARSER_BUILD)/fuzz.log; exit 1; }

bench-parser: venv $(UNIX_FW)
	$(PY) bench/parser.py

# --- loop ---------------------------------------------------------------------------------
# The socket loop: cmodules/kiln/kiln_server.c, kiln_conn.c, kiln_response.c and
# modules/kiln/server.py.
#   make test-server   its pytest suite, tests/test_server_loop.py (real sockets, ~15 s)
#   make bench-loop    wrk -t2 -c16 -d5s against tests/apps/server_hello on 127.0.0.1:LOOP_PORT,
#                      keep-alive, then with Connection: close
LOOP_PORT ?= 8089

.PHONY: test-server bench-loop

test-server: venv $(UNIX_FW)
	$(PY) -m pytest -q tests/test_server_loop.py

bench-loop: $(UNIX_FW)
	@cd tests/apps/server_hello && { \
	  $(UNIX_FW) -c "import main; main.app.run(host='127.0.0.1', port=$(LOOP_PORT))" & pid=$$!; \
	  trap "kill $$pid" EXIT; sleep 0.5; \
	  echo "keep-alive:"; wrk -t2 -c16 -d5s --latency http://127.0.0.1:$(LOOP_PORT)/ | grep -E 'Requests/sec|99%'; \
	  echo "Connection: close:"; wrk -t2 -c16 -d5s --latency -H 'Connection: close' \
	    http://127.0.0.1:$(LOOP_PORT)/ | grep -E 'Requests/sec|99%'; }

# --- device profiles ----------------------------------------------------------------------
# A 32-bit unix firmware at the ESP8266 port's feature level (boards/UNIX_DEVICE: built with
# MICROPY_FORCE_32BIT=1, needs gcc-multilib), run with a device's heap to see its budget:
#   make unix-device     build firmware/UNIX_DEVICE/kiln
#   firmware/UNIX_DEVICE/kiln -X heapsize=38k …    the ESP8266 profile (its whole GC heap)
#   firmware/UNIX_DEVICE/kiln -X heapsize=110k …   the ESP32 profile (no SPIRAM)
# tests/test_device_profiles.py serves examples in both; bench/device_profiles.py measures
# each example's smallest heap.
UNIX_DEVICE_BUILD := $(BUILD_ROOT)/unix-device
UNIX_DEVICE_FW := $(TOP)/firmware/UNIX_DEVICE/kiln

.PHONY: unix-device
unix-device: $(UNIX_DEVICE_FW)
$(UNIX_DEVICE_FW): export KILN_TEMPLATES = $(UNIX_TEMPLATES)
$(UNIX_DEVICE_FW): $(MPY_CROSS) $(VENDOR)/micropython-lib/README.md $(MBEDTLS) $(KILN_C) $(KILN_PY) $(wildcard boards/UNIX_DEVICE/*) FORCE
	@# the port rebuilds nothing when only the variant's settings change: start over then
	@cat boards/UNIX_DEVICE/mpconfigvariant.* | cmp -s - $(UNIX_DEVICE_BUILD)/kiln-variant || rm -rf $(UNIX_DEVICE_BUILD)
	@mkdir -p $(UNIX_DEVICE_BUILD) && cat boards/UNIX_DEVICE/mpconfigvariant.* > $(UNIX_DEVICE_BUILD)/kiln-variant
	$(MAKE) -s -C $(MP_DIR)/ports/unix -j$(JOBS) BUILD=$(UNIX_DEVICE_BUILD) VARIANT_DIR=$(TOP)/boards/UNIX_DEVICE \
		$(PORT_ARGS) MICROPY_FORCE_32BIT=1 MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0
	@mkdir -p $(dir $@)
	@cmp -s $(UNIX_DEVICE_BUILD)/micropython $@ || { cp $(UNIX_DEVICE_BUILD)/micropython $@.tmp && mv -f $@.tmp $@; }

# --- TLS ---------------------------------------------------------------------------------------
# make cert CERT_HOSTS="kiln.local 192.168.1.23": certs/cert.pem and key.pem for localhost and
# those names; serve with app.run(ssl=kiln.tls.server_context("certs/cert.pem", "certs/key.pem")).
CERT_HOSTS ?=
.PHONY: cert
cert:
	@tools/make-cert.sh certs $(CERT_HOSTS)

# --- over the air ---------------------------------------------------------------------------
# make ota APP=path/to/app HOST=192.168.1.23 (KILN_OTA_KEY in the environment: the key the
# board's firmware was built with) sends the app to the board's /ota/app and waits until it runs
# (tools/ota.py); make ota-firmware BOARD=ESP32_GENERIC HOST=… sends firmware/<BOARD>/'s app
# image to /ota/firmware.
OTA_PORT ?= 80
OTA_WAIT ?= 60
.PHONY: ota ota-firmware
ota: venv
	$(PY) tools/ota.py $(APP) $(HOST) --port $(OTA_PORT) --wait $(OTA_WAIT)
ota-firmware: venv check-board
	$(PY) tools/ota.py $(TOP)/firmware/$(BOARD)/micropython.bin $(HOST) --port $(OTA_PORT) --firmware --wait $(OTA_WAIT)

# --- docs ---------------------------------------------------------------------------------
# Editor support and reference docs:
#   make typecheck   mypy (pinned in requirements-dev.txt) checks every example and the typed
#                    stubs/check_api.py against Kiln's stubs (stubs/kiln/*.pyi, stubs/_kiln/__init__.pyi)
#   make docs        MkDocs + mkdocstrings build docs/ into build/site, warnings as errors,
#                    offline (no theme CDN); tests/test_docs.py runs every runnable sample
DOCS_SITE := $(BUILD_ROOT)/site

.PHONY: typecheck docs

typecheck: venv
	@for f in examples/*/main.py stubs/check_api.py; do \
	  out=$$($(VENV)/bin/mypy --config-file stubs/mypy.ini $$f) || { echo "$$out"; exit 1; }; done; \
	  echo "typecheck: examples and stubs/check_api.py clean"

docs: venv
	$(VENV)/bin/mkdocs build --strict --quiet --config-file mkdocs.yml --site-dir $(DOCS_SITE)

# Stock MicroPython for `mip install` and the pure-Python _kiln (modules/_kiln.py): the unix
# port's standard variant from the same pinned tree, without Kiln, with its own frozen mip
# (micropython-lib at v1.25.0's pin, from tools/get-vendor.sh). tests/test_mip.py installs Kiln
# into it from package.json over 127.0.0.1 and serves an example.
UNIX_STOCK_BUILD := $(BUILD_ROOT)/unix-stock
UNIX_STOCK := $(UNIX_STOCK_BUILD)/micropython

.PHONY: unix-stock
unix-stock: $(UNIX_STOCK)
$(UNIX_STOCK): $(MPY_CROSS) | $(VENDOR)/micropython-lib/README.md
	$(MAKE) -s -C $(MP_DIR)/ports/unix -j$(JOBS) BUILD=$(UNIX_STOCK_BUILD) VARIANT=standard \
		MICROPY_MPYCROSS=$(MPY_CROSS) MPY_LIB_DIR=$(VENDOR)/micropython-lib MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0

# The same suites on stock MicroPython with the pure-Python _kiln instead of the C module
# (tools/stock-kiln.sh stands in for firmware/UNIX/kiln); tests/fallback_differences.txt lists
# the tests that do not apply there, and why.
FALLBACK_SUITES := tests/test_server_loop.py tests/test_app_framework.py tests/test_app_start_server.py \
	tests/test_app_microdot_port.py tests/test_examples_hello.py tests/test_examples_rest_api.py \
	tests/test_examples_static_site.py tests/test_examples_upload.py tests/test_parser_binding.py \
	tests/test_docs.py tests/test_websocket.py tests/test_hub.py tests/test_storms.py tests/device
.PHONY: test-fallback
test-fallback: venv unix-stock
	KILN_FIRMWARE=$(TOP)/tools/stock-kiln.sh $(PY) -m pytest -q $(FALLBACK_SUITES) \
		$(addprefix --deselect ,$(shell grep -v '^\#' tests/fallback_differences.txt))
