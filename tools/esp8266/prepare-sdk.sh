#!/usr/bin/env bash
# Prepare Espressif's NONOS SDK v2.1.0-18 for the esp8266 port and Debian's gcc-xtensa-lx106 12
# (as esp-open-sdk did, plus what picolibc and gcc 12 need) into $2, from the trees that
# tools/get-vendor.sh obtained into $1:
#   - ESP_SDK_VERSION 020100 in esp_sdk_ver.h; c_types.h made C99 (stdint/stdbool, __packed
#     guarded against picolibc's <sys/cdefs.h>);
#   - libcrypto's objects merged into libwpa; user_rf_cal_sector_set() added to libmain;
#   - libmain's exception-vector objects extracted to vectors/*.o: with binutils 2.40 the linker
#     script's EXTERN() lines do not pull them from the archive, VECBASE then points at ordinary
#     code and the first interrupt locks the chip, so the link names them explicitly;
#   - liblwip_open.a built from esp-open-lwip, its headers installed (two picolibc fixes).
# Usage: prepare-sdk.sh <vendor dir> <sdk dir>
set -euo pipefail
vendor=$1 dest=$2
here=$(cd "$(dirname "$0")" && pwd)
cc=xtensa-lx106-elf-gcc ar=xtensa-lx106-elf-ar
libc_include=/usr/lib/xtensa-lx106-elf/include
[ -f "$libc_include/stdio.h" ] || { echo "prepare-sdk: picolibc headers not found in $libc_include (apt-get install picolibc-xtensa-lx106-elf)" >&2; exit 1; }

work=$dest.partial
rm -rf "$work" && mkdir -p "$work/lib" "$work/vectors" "$work/tmp"
cp -a "$vendor/ESP8266_NONOS_SDK/include" "$vendor/ESP8266_NONOS_SDK/ld" "$work/"
cp "$vendor"/ESP8266_NONOS_SDK/lib/*.a "$work/lib/"
printf '#undef ESP_SDK_VERSION\n#define ESP_SDK_VERSION 020100\n' >>"$work/include/esp_sdk_ver.h"
python3 "$here/patch_sdk_headers.py" c_types "$work/include/c_types.h"

(cd "$work/tmp" && $ar x ../lib/libcrypto.a && $ar rs ../lib/libwpa.a ./*.o >/dev/null)
rm -f "$work"/tmp/*
$cc -O2 -mlongcalls -isystem "$libc_include" -I"$work/include" \
    -c "$here/user_rf_cal_sector_set.c" -o "$work/tmp/user_rf_cal_sector_set.o"
$ar r "$work/lib/libmain.a" "$work/tmp/user_rf_cal_sector_set.o"
for v in debug nmi kernel user double; do
    (cd "$work/vectors" && $ar x ../lib/libmain.a "$v-vector.o")
done

cp -a "$vendor/esp-open-lwip" "$work/tmp/lwip"
make -s -C "$work/tmp/lwip" -f Makefile.open -j2 \
    CFLAGS_EXTRA="-isystem $libc_include -I$work/include" >"$work/lwip.log" 2>&1 \
    || { tail -20 "$work/lwip.log"; echo "prepare-sdk: building liblwip_open.a failed" >&2; exit 1; }
cp "$work/tmp/lwip/liblwip_open.a" "$work/lib/"
cp -a "$work"/tmp/lwip/include/{arch,lwip,netif,lwipopts.h} "$work/include/"
python3 "$here/patch_sdk_headers.py" lwip "$work/include"
rm -rf "$work/tmp"
rm -rf "$dest" && mv "$work" "$dest"
