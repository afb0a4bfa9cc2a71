#!/usr/bin/env bash
# Build the ESP8266 firmware with Kiln and place it in firmware/ESP8266_GENERIC/ with its flash
# offsets, sizes and sha256. Needs the esp-open-sdk toolchain: xtensa-lx106-elf-gcc with
# Espressif's NONOS SDK (headers such as user_interface.h, closed libraries such as libphy.a) in
# its sysroot or in ESP_SDK, and a GitHub clone of MicroPython v1.25.0 with its submodules.
# Usage: build-esp8266.sh <micropython tree> <board dir> <build dir> <output dir>
set -euo pipefail
mp=$1 board_dir=$2 build=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "make esp8266: $*" >&2; exit 1; }

command -v xtensa-lx106-elf-gcc >/dev/null 2>&1 || fail "xtensa-lx106-elf-gcc not found: install the esp-open-sdk toolchain"
sdk=${ESP_SDK:-$(xtensa-lx106-elf-gcc -print-sysroot)/usr}
[ -f "$sdk/include/user_interface.h" ] && [ -f "$sdk/lib/libphy.a" ] \
    || fail "Espressif's NONOS SDK not found in $sdk (no package registry reachable here has it): install esp-open-sdk or set ESP_SDK; 'make check-xtensa' compiles the C core without it"
[ -f "$mp/lib/lwip/src/include/lwip/tcp.h" ] \
    || fail "the MicroPython tree has no lwIP submodule; use a GitHub clone (MICROPYTHON_DIR=...) and run 'make submodules'"

make -C "$mp/ports/esp8266" BOARD_DIR="$board_dir" BUILD="$build" ESP_SDK="$sdk" \
    USER_C_MODULES="$(dirname "$here")/cmodules" \
    MICROPY_MPYCROSS="$(dirname "$mp")/mpy-cross/mpy-cross"
"$here/package-firmware.py" --chip esp8266 --out "$out" --image 0x0 "$build/firmware.bin"
