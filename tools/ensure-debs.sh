#!/usr/bin/env bash
# Install the Debian packages in tools/debian-packages.txt that are missing: as root with apt-get,
# otherwise print the one command to run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
wanted=$(grep -vE '^\s*(#|$)' "$here/debian-packages.txt")
missing=()
for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "deps: missing Debian packages; run:"
    echo "  sudo apt-get install -y ${missing[*]}"
    exit 1
fi
