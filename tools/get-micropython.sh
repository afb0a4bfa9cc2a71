#!/usr/bin/env bash
# Obtain MicroPython v1.25.0 into $1 (a folder that must not exist yet), from the first source
# that answers: $MICROPYTHON_DIR, the GitHub tag, or Debian's source package (sha256 checked).
# Every network step is bounded so an unreachable source fails in seconds.
set -euo pipefail

dest=$1
tag=v1.25.0
deb_version=1.25.0+ds-1
orig=micropython_1.25.0+ds.orig.tar.xz
orig_sha256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
work=$(dirname "$dest")/.mp-download
say() { printf 'get-micropython: %s\n' "$*" >&2; }

mkdir -p "$(dirname "$dest")"
rm -rf "$work" && mkdir -p "$work"

if [ -n "${MICROPYTHON_DIR:-}" ]; then
    [ -f "$MICROPYTHON_DIR/py/mpconfig.h" ] || { say "MICROPYTHON_DIR=$MICROPYTHON_DIR is not a MicroPython tree"; exit 1; }
    ln -s "$(cd "$MICROPYTHON_DIR" && pwd)" "$dest"
    say "using $MICROPYTHON_DIR"
    exit 0
fi

if timeout 8 git ls-remote --exit-code --tags https://github.com/micropython/micropython "refs/tags/$tag" >/dev/null 2>&1; then
    say "cloning $tag from GitHub"
    git -c advice.detachedHead=false clone --depth 1 --branch "$tag" \
        https://github.com/micropython/micropython "$dest"
    exit 0
fi
say "GitHub is not reachable; trying Debian's source package micropython $deb_version"

# The mirror this machine's apt already uses, read from its own configuration.
mirror=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n 1 | awk '{print $2}') || true
[ -n "$mirror" ] || { say "no apt mirror configured on this machine; set MICROPYTHON_DIR"; exit 1; }
url="${mirror%/}/pool/main/m/micropython/$orig"
if ! curl -fsSL --connect-timeout 8 --max-time 300 -o "$work/$orig" "$url"; then
    say "cannot download Debian's $orig from the configured mirror; set MICROPYTHON_DIR"
    exit 1
fi
echo "$orig_sha256  $work/$orig" | sha256sum -c --quiet - || { say "sha256 mismatch for $orig"; exit 1; }
mkdir -p "$work/tree"
tar -xJf "$work/$orig" -C "$work/tree" --strip-components=1
# Empty submodule folders: give micropython-lib the README the build checks for.
mkdir -p "$work/tree/lib/micropython-lib"
[ -f "$work/tree/lib/micropython-lib/README.md" ] || echo "empty in Debian's source package" > "$work/tree/lib/micropython-lib/README.md"
mv "$work/tree" "$dest"
rm -rf "$work"
say "unpacked Debian's micropython $deb_version into $dest"
