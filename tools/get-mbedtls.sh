#!/usr/bin/env bash
# Obtain Mbed TLS 3.6 (the TLS library of MicroPython's esp32 and unix ports; v1.25.0 pins
# v3.6.2) into $1 when the MicroPython tree came without it (Debian's source package leaves
# lib/mbedtls empty): from GitHub at v3.6.2 where GitHub answers, else Debian's source tarball of
# the same long-term-support series (3.6.6, sha256 checked) from the machine's configured apt
# mirror. Every network step is bounded so an unreachable source fails in seconds.
# Usage: get-mbedtls.sh <dest>
set -euo pipefail

dest=$1
tag=v3.6.2
orig=mbedtls_3.6.6.orig.tar.bz2
orig_sha256=8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a
say() { printf 'get-mbedtls: %s\n' "$*" >&2; }
work=$dest.partial
rm -rf "$work" && mkdir -p "$work"

if [ -z "${KILN_NO_GITHUB:-}" ] &&
    timeout 8 git ls-remote --exit-code --tags https://github.com/Mbed-TLS/mbedtls "refs/tags/$tag" >/dev/null 2>&1; then
    say "cloning Mbed TLS $tag from GitHub"
    git -c advice.detachedHead=false clone -q --depth 1 --branch "$tag" https://github.com/Mbed-TLS/mbedtls "$work/tree"
else
    mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n 1 | awk '{print $2}') || true
    [ -n "$mirror" ] || { say "GitHub is not reachable and no apt mirror is configured"; exit 1; }
    say "GitHub is not reachable; fetching Debian's $orig"
    curl -fsSL --connect-timeout 8 --max-time 300 -o "$work/$orig" "${mirror%/}/pool/main/m/mbedtls/$orig" ||
        { say "cannot download $orig from the configured mirror"; exit 1; }
    echo "$orig_sha256  $work/$orig" | sha256sum -c --quiet - || { say "sha256 mismatch for $orig"; exit 1; }
    mkdir -p "$work/tree"
    tar -xjf "$work/$orig" -C "$work/tree" --strip-components=1
fi
[ -f "$work/tree/include/mbedtls/ssl.h" ] || { say "no include/mbedtls/ssl.h in what was fetched"; exit 1; }
rm -rf "$dest" && mv "$work/tree" "$dest" && rm -rf "$work"
say "Mbed TLS in $dest"
