#!/usr/bin/env python3
"""Header fixes that let the NONOS SDK and esp-open-lwip compile with gcc 12 and picolibc.

    patch_sdk_headers.py c_types <path to c_types.h>
    patch_sdk_headers.py lwip <SDK include folder holding lwipopts.h and arch/cc.h>

Each replacement must match exactly once: a changed input stops the build instead of being
patched wrongly."""

import re
import sys


def replace_once(text, old, new, path):
    if text.count(old) != 1:
        sys.exit("patch_sdk_headers: %r not found exactly once in %s" % (old[:40], path))
    return text.replace(old, new)


def c_types(path):
    # C99: the fixed-width types and bool come from the C library, as esp-open-sdk's patch did.
    with open(path, encoding="latin-1") as f:
        text = f.read()
    for name in ("uint8_t", "int8_t", "uint16_t", "int16_t", "uint32_t", "int32_t", "uint64_t"):
        text, count = re.subn(r"^typedef [a-z ]+\s%s;" % name, lambda m: "//" + m.group(0), text,
                              count=1, flags=re.M)
        if count != 1:
            sys.exit("patch_sdk_headers: no typedef of %s in %s" % (name, path))
    for line in ("typedef unsigned char   bool;", "#define true            (1)",
                 "#define false           (0)"):
        text = replace_once(text, line, "//" + line, path)
    text = replace_once(text, "#define _C_TYPES_H_\n",
                        "#define _C_TYPES_H_\n\n#include <stdint.h>\n#include <stdbool.h>\n", path)
    # picolibc's <sys/cdefs.h> defines __packed as well.
    packed = "#define __packed        __attribute__((packed))"
    text = replace_once(text, packed, "#ifndef __packed\n%s\n#endif" % packed, path)
    with open(path, "w", encoding="latin-1") as f:
        f.write(text)


def patch_file(path, old, new):
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(replace_once(text, old, new, path))


def lwip(include):
    # A nested "/*" that gcc's -Werror=comment refuses.
    patch_file(include + "/lwipopts.h",
               "#endif\n/*\n/*\n   ----------------------------------\n   ---------- DNS",
               "#endif\n/*\n   ----------------------------------\n   ---------- DNS")
    # picolibc's <endian.h> defines BYTE_ORDER already.
    patch_file(include + "/arch/cc.h",
               "#if (1)\n#define BYTE_ORDER LITTLE_ENDIAN\n#else\n#define BYTE_ORDER BIG_ENDIAN\n#endif",
               "#ifndef BYTE_ORDER\n#define BYTE_ORDER LITTLE_ENDIAN\n#endif")


if __name__ == "__main__":
    {"c_types": c_types, "lwip": lwip}[sys.argv[1]](sys.argv[2])
