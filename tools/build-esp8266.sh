#!/usr/bin/env bash
# Build the ESP8266_GENERIC firmware with Kiln and place it in firmware/ESP8266_GENERIC/ with its
# flash offset, size and sha256. What it needs, checked first, each named when missing:
#   - Debian's gcc-xtensa-lx106, binutils-xtensa-lx106 and picolibc-xtensa-lx106-elf (headers:
#     the port links no C library);
#   - the NONOS SDK, esp-open-lwip, micropython-lib and axtls at MicroPython v1.25.0's pins
#     (tools/get-vendor.sh: GitHub, else the vendored tarball), the SDK prepared by
#     tools/esp8266/prepare-sdk.sh; or ESP_SDK=/path to an SDK prepared the same way;
#   - esptool in the project's .venv (make venv).
# The port itself uses no lwIP submodule (it links the SDK's liblwip_open.a) but forces axtls
# (TLS, hashlib.sha1): the Makefile fills lib/axtls of the MicroPython tree from the pin.
# Usage: build-esp8266.sh <micropython tree> <board dir> <build dir> <output dir>
set -euo pipefail
mkdir -p "$3" "$4"
mp=$(cd "$1" && pwd) board_dir=$(cd "$2" && pwd) build=$(cd "$3" && pwd) out=$(cd "$4" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
vendor=$top/build/vendor
fail() { echo "make esp8266: $*" >&2; exit 1; }

command -v xtensa-lx106-elf-gcc >/dev/null 2>&1 && command -v xtensa-lx106-elf-ld >/dev/null 2>&1 \
    || fail "xtensa-lx106-elf-gcc not found: apt-get install gcc-xtensa-lx106 binutils-xtensa-lx106 picolibc-xtensa-lx106-elf"
libc_include=/usr/lib/xtensa-lx106-elf/include
[ -f "$libc_include/stdio.h" ] || fail "picolibc headers not found in $libc_include: apt-get install picolibc-xtensa-lx106-elf"
esptool=$top/.venv/bin/esptool
[ -x "$esptool" ] || fail "esptool not found in .venv: run make venv"

[ -d "$vendor/ESP8266_NONOS_SDK" ] && [ -d "$vendor/axtls" ] || "$here/get-vendor.sh" "$vendor" \
    || fail "Espressif's NONOS SDK not found: no GitHub and no vendored tarball (see the README, 'Building your own board')"
sdk=${ESP_SDK:-$top/build/esp8266-sdk}
if [ -z "${ESP_SDK:-}" ] && [ ! -f "$sdk/lib/liblwip_open.a" ]; then
    echo "make esp8266: preparing the NONOS SDK in $sdk"
    "$here/esp8266/prepare-sdk.sh" "$vendor" "$sdk"
fi
[ -f "$sdk/include/user_interface.h" ] && [ -f "$sdk/lib/libphy.a" ] && [ -f "$sdk/vectors/user-vector.o" ] \
    || fail "ESP_SDK=$sdk is not a NONOS SDK prepared by tools/esp8266/prepare-sdk.sh"
[ -f "$mp/lib/axtls/ssl/ssl.h" ] || fail "$mp/lib/axtls is empty: 'make esp8266' fills it from the pin"

python3 "$here/esp8266/kiln_ld.py" "$mp/ports/esp8266" boards/esp8266_2MiB.ld "$build/ld"
# Reproducible: the build date MicroPython records is the date of Kiln's last commit, and its
# version string is the tree's own (not Kiln's git hash: git stops above the tree).
SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)
GIT_CEILING_DIRECTORIES=$(dirname "$mp"):$(dirname "$(cd "$mp" && pwd -P)")
PYTHONDONTWRITEBYTECODE=1
export SOURCE_DATE_EPOCH GIT_CEILING_DIRECTORIES PYTHONDONTWRITEBYTECODE

log=$build/build.log
mkdir -p "$build"
echo "make esp8266: building (log: $log)"
make -C "$mp/ports/esp8266" -j"${JOBS:-2}" BOARD_DIR="$board_dir" BUILD="$build" ESP_SDK="$sdk" \
    LD_FILES="$build/ld/esp8266_2MiB.ld" KILN_LINK_OBJECTS="$(echo "$sdk"/vectors/*.o)" \
    ESPTOOL="$esptool --chip esp8266" USER_C_MODULES="$top/cmodules" MPY_LIB_DIR="$vendor/micropython-lib" \
    MICROPY_MPYCROSS="$(dirname "$mp")/mpy-cross/mpy-cross" \
    CFLAGS_EXTRA="-Wno-array-bounds -fcommon -D__PICOLIBC_ERRNO_FUNCTION=__errno -I$here/esp8266/compat -isystem $libc_include" \
    >"$log" 2>&1 || { tail -30 "$log"; fail "the firmware build failed (full log: $log)"; }
grep -A3 -E '^\s+text\s+data' "$log" || true
# The image header names the board's smallest flash (2 MB); `make flash` writes the real size.
"$top/.venv/bin/python" "$here/package-firmware.py" --chip esp8266 --flash-size 2MB --out "$out" \
    --image 0x0 "$build/firmware.bin"
cp "$build/firmware.elf" "$out/firmware.elf"
