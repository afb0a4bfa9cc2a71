#!/usr/bin/env bash
# Cross-compile every C file of the _kiln module for the ESP8266 with the esp8266 port's own
# flags (-Os -mlongcalls -mtext-section-literals ...) and print each object's section sizes.
# Usage: check-xtensa.sh <micropython tree> <build dir> <cmodules dir>
set -euo pipefail
mp=$1 build=$2 cmodules=$3
here=$(cd "$(dirname "$0")" && pwd)
command -v xtensa-lx106-elf-gcc >/dev/null || {
    echo "check-xtensa: xtensa-lx106-elf-gcc not found (apt-get install gcc-xtensa-lx106 binutils-xtensa-lx106 picolibc-xtensa-lx106-elf)"
    exit 1
}
libc_include=$(dirname "$(xtensa-lx106-elf-gcc -print-file-name=picolibc.specs)")/include
[ -f "$libc_include/stdio.h" ] || libc_include=/usr/lib/xtensa-lx106-elf/include

objs=()
for src in "$cmodules"/kiln/*.c; do
    objs+=("$build/kiln/$(basename "${src%.c}").o")
done
log="$build/check-xtensa.log"
mkdir -p "$build"
status=0
make -s -C "$mp/ports/esp8266" BUILD="$build" BOARD_DIR="$(dirname "$here")/boards/ESP8266_GENERIC" \
    ESP_SDK="$here/esp8266/sdk-stub" MICROPY_PY_SSL=0 MICROPY_PY_BTREE=0 FROZEN_MANIFEST= \
    USER_C_MODULES="$cmodules" MICROPY_MPYCROSS="$(dirname "$mp")/mpy-cross/mpy-cross" \
    CFLAGS_EXTRA="-isystem $libc_include" "${objs[@]}" >"$log" 2>&1 || status=$?
grep -vE '^(Use make V=1|Including User C Module|GEN |QSTR|Module registrations|Root pointer|Compressed data|mkdir |makeversionhdr)' "$log" || true
[ "$status" -eq 0 ] || { echo "check-xtensa: the ESP8266 compile failed"; exit 1; }
for o in "${objs[@]}"; do
    [ -f "$o" ] || { echo "check-xtensa: $o was not built"; exit 1; }
done
echo "check-xtensa: _kiln for the ESP8266 (xtensa-lx106, -Os), bytes per section:"
xtensa-lx106-elf-size -t "${objs[@]}" | sed "s#$build/##"
