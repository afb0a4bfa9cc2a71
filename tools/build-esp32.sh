#!/usr/bin/env bash
# Build an ESP32-family firmware with Kiln and place it in firmware/<BOARD>/ with its flash
# offsets, sizes and sha256. Needs ESP-IDF v5.2-v5.4 (idf.py on PATH) and a GitHub clone of
# MicroPython v1.25.0 with its submodules (`make submodules`).
# Usage: build-esp32.sh <micropython tree> <board dir> <build dir> <output dir>
set -euo pipefail
mp=$1 board_dir=$2 build=$3 out=$4
board=$(basename "$board_dir")
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "make esp32: $*" >&2; exit 1; }

[ -f "$board_dir/mpconfigboard.cmake" ] || fail "no board folder boards/$board (have: $(ls -d "$here"/../boards/ESP32* | xargs -n1 basename | tr '\n' ' '))"
command -v idf.py >/dev/null 2>&1 || fail "ESP-IDF not found: install ESP-IDF v5.2-v5.4 and run '. \$IDF_PATH/export.sh' (no package registry reachable here provides it)"
idf_version=$(idf.py --version 2>/dev/null | grep -oE 'v[0-9]+\.[0-9]+' | head -n1)
case "$idf_version" in
    v5.2|v5.3|v5.4) ;;
    *) fail "ESP-IDF $idf_version found; MicroPython v1.25.0 supports v5.2 to v5.4" ;;
esac
[ -f "$mp/lib/berkeley-db-1.xx/README" ] || [ -d "$mp/lib/micropython-lib/micropython" ] \
    || fail "the MicroPython tree has no submodules; use a GitHub clone (MICROPYTHON_DIR=...) and run 'make submodules'"

export MICROPY_MPYCROSS="$(dirname "$mp")/mpy-cross/mpy-cross"
make -C "$mp/ports/esp32" BOARD_DIR="$board_dir" BUILD="$build" \
    USER_C_MODULES="$(dirname "$here")/cmodules/kiln/micropython.cmake"

chip=$(grep -oE 'IDF_TARGET [a-z0-9]+' "$board_dir/mpconfigboard.cmake" | awk '{print $2}')
boot_offset=0x0
[ "$chip" = esp32 ] && boot_offset=0x1000
# Kiln's tables have two OTA slots (kiln.fwota): flash a blank otadata with them, so a board
# that held another layout boots ota_0 rather than what stale bytes at 0xd000 would say.
otadata=()
[ -f "$build/ota_data_initial.bin" ] && otadata=(--image 0xd000 "$build/ota_data_initial.bin")
"$here/package-firmware.py" --chip "$chip" --out "$out" \
    --image "$boot_offset" "$build/bootloader/bootloader.bin" \
    --image 0x8000 "$build/partition_table/partition-table.bin" \
    "${otadata[@]}" \
    --image 0x10000 "$build/micropython.bin"
