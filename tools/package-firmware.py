#!/usr/bin/env python3
"""Place a board's built images in firmware/<BOARD>/: check each with esptool (offline), merge
them into one image written at the first offset, and record offsets, sizes and sha256 in
flash.json and SHA256SUMS. Used by `make esp32` and `make esp8266`."""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

ESPTOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv", "bin", "esptool")


def esptool(*args):
    return subprocess.run([ESPTOOL, *args], check=True, capture_output=True, text=True).stdout


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chip", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--flash-size", help="flash size to write into the image header (e.g. 2MB)")
    parser.add_argument("--image", nargs=2, action="append", metavar=("OFFSET", "FILE"), required=True)
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    images = []
    for offset, path in args.image:
        name = os.path.basename(path)
        if args.flash_size and offset in ("0x0", "0"):
            # merge-bin rewrites the header's flash size of an image written at 0x0.
            esptool("--chip", args.chip, "merge-bin", "--flash-size", args.flash_size,
                    "-o", os.path.join(args.out, name), offset, path)
        else:
            shutil.copyfile(path, os.path.join(args.out, name))
        images.append({"offset": offset, "file": name})

    # Bootloaders and apps carry esptool's image header and checksum; partition tables and the
    # blank otadata (ota_data_initial.bin) do not.
    for image in images:
        if image["file"].startswith(("partition-table", "ota_data_initial")):
            continue
        info = esptool("--chip", args.chip, "image-info", os.path.join(args.out, image["file"]))
        if "invalid" in info.lower():
            sys.exit("package-firmware: %s fails esptool's checks:\n%s" % (image["file"], info))

    merged = "firmware-%s.bin" % args.chip
    if len(images) > 1:
        merge_args = []
        for image in images:
            merge_args += [image["offset"], os.path.join(args.out, image["file"])]
        esptool("--chip", args.chip, "merge-bin", "--target-offset", images[0]["offset"],
                "-o", os.path.join(args.out, merged), *merge_args)
    else:
        shutil.copyfile(os.path.join(args.out, images[0]["file"]), os.path.join(args.out, merged))

    files = [image["file"] for image in images] + [merged]
    manifest = {
        "chip": args.chip,
        "images": images,
        "merged": {"offset": images[0]["offset"], "file": merged},
        "files": {name: {"size": os.path.getsize(os.path.join(args.out, name)),
                         "sha256": sha256(os.path.join(args.out, name))} for name in files},
    }
    with open(os.path.join(args.out, "flash.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(args.out, "SHA256SUMS"), "w") as f:
        for name in files:
            f.write("%s  %s\n" % (manifest["files"][name]["sha256"], name))
    for name in files:
        print("%-28s %8d bytes  %s" % (name, manifest["files"][name]["size"], manifest["files"][name]["sha256"]))
    print("flash: esptool --chip %s write-flash %s %s" % (args.chip, images[0]["offset"], merged))


if __name__ == "__main__":
    main()
