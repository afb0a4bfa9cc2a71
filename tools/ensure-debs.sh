#!/usr/bin/env bash
# Install the Debian packages of tools/debian-packages.txt that a make target needs and are
# missing: as root with apt-get, otherwise print the one command to run.
# Usage: ensure-debs.sh [run|test|bench]   (default: bench, which is everything)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-bench}" in
    run) groups="run" ;;
    test) groups="run test" ;;
    bench) groups="run test bench" ;;
    *) echo "ensure-debs: unknown target '$1' (run, test or bench)" >&2; exit 2 ;;
esac
wanted=$(awk -v groups=" $groups " '!/^[[:space:]]*(#|$)/ && index(groups, " " $2 " ") { print $1 }' "$here/debian-packages.txt")
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
