#!/usr/bin/env bash
# Copy an app folder (main.py, templates/, static/, ...) to a device's filesystem with mpremote,
# then reset the device so it starts the app.
# Usage: deploy.sh <app dir> <serial port>
set -euo pipefail
app=$1 port=$2
here=$(cd "$(dirname "$0")" && pwd)
mpremote=$(dirname "$here")/.venv/bin/mpremote
[ -f "$app/main.py" ] || { echo "make deploy: $app/main.py not found (APP=... names an app folder)"; exit 1; }
[ -e "$port" ] || { echo "make deploy: no device at $port (set PORT=...)"; exit 1; }
cd "$app"
"$mpremote" connect "$port" cp -r . : + reset
