#!/usr/bin/env bash
# Obtain the inputs of the ESP8266 image that no package registry carries into $1 (a folder made
# here): Espressif's NONOS SDK, esp-open-lwip, and MicroPython v1.25.0's micropython-lib and axtls
# pins. From GitHub at the pinned commits where GitHub answers (git checks each commit's content
# against its id), else from the vendored tarball KILN_VENDOR/esp8266-vendor.tar.xz (sha256
# checked; KILN_NO_GITHUB=1 goes there directly). Every network step is bounded so an
# unreachable source fails in seconds.
# Usage: get-vendor.sh <dest>
set -euo pipefail

dest=$1
here=$(cd "$(dirname "$0")" && pwd)
vendor=${KILN_VENDOR:-$(dirname "$here")/../shared/vendor}
tarball=$vendor/esp8266-vendor.tar.xz
tarball_sha256=3a09d6750895270a0b177499c462dd6d07ad820899e5a5c7be270acb4cd96621
# name, repository, commit: the pins MicroPython v1.25.0 and its CI use.
pins="ESP8266_NONOS_SDK espressif/ESP8266_NONOS_SDK 61248df5f6
esp-open-lwip pfalcon/esp-open-lwip 8c39d2179a273553466043f388772abb6251a4ca
micropython-lib micropython/micropython-lib 5b496e944ec045177afa1620920a168410b7f60b
axtls micropython/axtls 531cab9c278c947d268bd4c94ecab9153a961b43"
say() { printf 'get-vendor: %s\n' "$*" >&2; }

work=$dest.partial
rm -rf "$work" && mkdir -p "$work"

from_github() {
    [ -z "${KILN_NO_GITHUB:-}" ] || return 1   # tests of the tarball path set it
    timeout 8 git ls-remote --exit-code https://github.com/micropython/micropython-lib HEAD >/dev/null 2>&1 || return 1
    local name repo commit
    while read -r name repo commit; do
        say "fetching $repo at $commit"
        git -c advice.detachedHead=false clone -q --filter=blob:none "https://github.com/$repo" "$work/$name" &&
            git -C "$work/$name" -c advice.detachedHead=false checkout -q "$commit" &&
            rm -rf "$work/$name/.git" || return 1
    done <<<"$pins"
}

from_tarball() {
    [ -f "$tarball" ] || { say "GitHub is not reachable and $tarball is missing (set KILN_VENDOR to the folder holding esp8266-vendor.tar.xz)"; return 1; }
    echo "$tarball_sha256  $tarball" | sha256sum -c --quiet - || { say "sha256 mismatch for $tarball"; return 1; }
    tar -xJf "$tarball" -C "$work" --strip-components=1
    say "unpacked $(basename "$tarball") (sha256 ok)"
}

if ! from_github; then
    rm -rf "$work" && mkdir -p "$work"
    from_tarball || exit 1
fi
while read -r name _; do
    [ -d "$work/$name" ] || { say "$name is missing from what was fetched"; exit 1; }
done <<<"$pins"
rm -rf "$dest" && mv "$work" "$dest"
