#!/usr/bin/env bash
# Write a built or downloaded firmware folder (firmware/<BOARD>/) to a device with esptool,
# at the offsets recorded in its flash.json.
# Usage: flash.sh <firmware dir> <serial port>
set -euo pipefail
dir=$1 port=$2
here=$(cd "$(dirname "$0")" && pwd)
esptool=$(dirname "$here")/.venv/bin/esptool
[ -f "$dir/flash.json" ] || { echo "make flash: $dir/flash.json not found; build the board first (make esp32 BOARD=... or make esp8266) or unpack a release there"; exit 1; }
[ -e "$port" ] || { echo "make flash: no device at $port (set PORT=...)"; exit 1; }
(cd "$dir" && sha256sum -c --quiet SHA256SUMS) || { echo "make flash: checksum mismatch in $dir"; exit 1; }
read -r chip args < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["chip"], " ".join("%s %s" % (i["offset"], i["file"]) for i in m["images"]))' "$dir/flash.json")
cd "$dir"
"$esptool" --chip "$chip" --port "$port" erase-flash
# The ESP8266 image's header names 2 MB; the SDK must learn the board's real flash size, or it
# looks for its RF calibration data in the wrong sector and reboots for ever.
size_args=()
[ "$chip" = esp8266 ] && size_args=(--flash-size detect)
"$esptool" --chip "$chip" --port "$port" --baud 460800 write-flash "${size_args[@]}" $args
