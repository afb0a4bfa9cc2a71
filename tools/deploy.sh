#!/usr/bin/env bash
# Copy what an app needs to run to a device's filesystem with mpremote: its top-level Python
# modules and packages, templates/ and static/ (not tests, caches, uploads or dotfiles), then
# reset the device so it starts the app.
# Usage: deploy.sh <app dir> <serial port>
set -euo pipefail
app=$1 port=$2
here=$(cd "$(dirname "$0")" && pwd)
mpremote=$(dirname "$here")/.venv/bin/mpremote
[ -f "$app/main.py" ] || { echo "make deploy: $app/main.py not found (APP=... names an app folder)"; exit 1; }
[ -e "$port" ] || { echo "make deploy: no device at $port (set PORT=...)"; exit 1; }
cd "$app"
mapfile -t files < <("$here/app_files.py" .)
echo "make deploy: ${files[*]}"
args=()
for f in "${files[@]}"; do
    if [ -d "$f" ]; then args+=(cp -r "$f" : +); else args+=(cp "$f" : +); fi
done
"$mpremote" connect "$port" "${args[@]}" reset
