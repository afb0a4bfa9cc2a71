#!/usr/bin/env python3
"""Write the ESP8266 linker scripts Kiln links with, generated from the port's own so a
MicroPython bump cannot silently diverge from them.

    kiln_ld.py <port dir> <board .ld, e.g. boards/esp8266_2MiB.ld> <out dir>

Two changes to the port's boards/esp8266_common.ld:
- Kiln's objects go to flash (.irom0.text). The port puts every object its script does not list
  into the 32 KB of IRAM, and _kiln alone would overflow it. The patterns name the files
  (kiln_*.o, modkiln.o): ld's `*` matches `/` too, so `*/kiln/*.o` would also catch the port's
  own start-up code.
- The exception vectors are kept (KEEP), since the link names libmain's vector objects itself.
Any anchor that is not found exactly once stops the build."""

import os
import re
import sys

KILN_SECTIONS = (
    "\n        /* Kiln: the _kiln user C module runs from flash, not IRAM */\n"
    "        */kiln/kiln_*.o(.literal* .text*)\n"
    "        */kiln/modkiln.o(.literal* .text*)\n"
)
VECTORS = ("UserEnter", "DebugExceptionVector", "NMIExceptionVector", "KernelExceptionVector",
           "UserExceptionVector", "DoubleExceptionVector")


def once(pattern, text, what):
    matches = list(re.finditer(pattern, text, re.M))
    if len(matches) != 1:
        sys.exit("kiln_ld: %s found %d times in the port's linker script" % (what, len(matches)))
    return matches[0]


def common_script(text):
    anchor = once(r"^\s*\*extmod/\*\.o\*\(\.literal\* \.text\*\)\n", text, "the extmod line")
    text = text[: anchor.end()] + KILN_SECTIONS + text[anchor.end():]
    for name in VECTORS:
        line = once(r"^(\s*)\*\(\.%s\.text\)$" % name, text, "the %s section" % name)
        text = text[: line.start()] + "%sKEEP(*(.%s.text))" % (line.group(1), name) + text[line.end():]
    return text


def main(port_dir, board_ld, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(port_dir, "boards", "esp8266_common.ld")) as f:
        common = common_script(f.read())
    common_path = os.path.join(out_dir, "esp8266_common_kiln.ld")
    with open(common_path, "w") as f:
        f.write(common)
    with open(os.path.join(port_dir, board_ld)) as f:
        board = f.read()
    include = once(r"^INCLUDE boards/esp8266_common\.ld$", board, "the INCLUDE line")
    board = board[: include.start()] + "INCLUDE " + common_path + board[include.end():]
    with open(os.path.join(out_dir, os.path.basename(board_ld)), "w") as f:
        f.write(board)


if __name__ == "__main__":
    main(*sys.argv[1:])
