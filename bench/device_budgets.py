#!/usr/bin/env python3
"""Device budgets: what Kiln costs on the ESP8266 image and the unix firmware.

    make size                          # prints this Markdown section
    .venv/bin/python bench/device_budgets.py

From the ESP8266 ELF (build/ESP8266_GENERIC/firmware.elf, built by `make esp8266`): IRAM used
and free of the 32 KB, irom0 (code in flash), static RAM, `_kiln`'s code per object and the
frozen `kiln` bytecode per module. From the emulated ESP8266 (tools/emulate.py): the free heap
after boot and after `from kiln import App`. From the unix firmware: its size and the heap
`from kiln import App` takes. tests/test_esp8266_image.py holds these figures to budgets."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import emulate  # noqa: E402

ESP_BUILD = os.path.join(ROOT, "build", "ESP8266_GENERIC")
ESP_ELF = os.path.join(ESP_BUILD, "firmware.elf")
ESP_IMAGE = os.path.join(ROOT, "firmware", "ESP8266_GENERIC", "firmware.bin")
UNIX_FW = os.path.join(ROOT, "firmware", "UNIX", "kiln")
IRAM = (0x40100000, 0x8000)
IROM = (0x40200000, 0x100000)
DRAM = (0x3FFE8000, 0x14000)

HEAP_PROBE = "import gc; gc.collect(); print(gc.mem_free())\nfrom kiln import App\ngc.collect(); print(gc.mem_free())\n"


def sections(elf):
    """{name: (address, size)} of the ELF's allocated sections."""
    out = subprocess.run(["xtensa-lx106-elf-size", "-A", "-d", elf], check=True,
                         capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() and int(parts[2]):
            found[parts[0]] = (int(parts[2]), int(parts[1]))
    return found


def in_region(address, region):
    return region[0] <= address < region[0] + region[1]


def esp8266_memory(elf=ESP_ELF):
    """IRAM, irom0 and static DRAM bytes the image uses."""
    used = {"iram": 0, "irom0": 0, "dram": 0}
    for address, size in sections(elf).values():
        for name, region in (("iram", IRAM), ("irom0", IROM), ("dram", DRAM)):
            if in_region(address, region):
                used[name] += size
    used["iram_free"] = IRAM[1] - used["iram"]
    return used


def symbols(path):
    """[(address, type, name)] of the defined symbols of an ELF or object file."""
    out = subprocess.run(["xtensa-lx106-elf-nm", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            rows.append((int(parts[0], 16), parts[1], parts[2]))
    return rows


def kiln_objects(build=ESP_BUILD):
    """{object name: code bytes} of the _kiln C module (text and literals)."""
    folder = os.path.join(build, "kiln")
    sizes = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".o"):
            out = subprocess.run(["xtensa-lx106-elf-size", "-A", "-d", os.path.join(folder, name)],
                                 check=True, capture_output=True, text=True).stdout
            sizes[name] = sum(int(p[1]) for p in (line.split() for line in out.splitlines())
                              if len(p) == 3 and p[0].startswith((".text", ".literal")) and p[1].isdigit())
    return sizes


def kiln_functions_by_region(build=ESP_BUILD, elf=ESP_ELF):
    """{function name: region} where the linked image put each function of _kiln's objects."""
    names = set()
    folder = os.path.join(build, "kiln")
    for obj in os.listdir(folder):
        if obj.endswith(".o"):
            names.update(name for _, kind, name in symbols(os.path.join(folder, obj)) if kind in "Tt")
    placed = {}
    for address, kind, name in symbols(elf):
        if name in names and kind in "Tt":
            placed[name] = "iram" if in_region(address, IRAM) else "irom0" if in_region(address, IROM) else hex(address)
    return placed


def frozen_names(image=ESP_IMAGE):
    """Names of the frozen kiln modules the image holds (`kiln/app.py`...), read from its bytes."""
    with open(image, "rb") as f:
        data = f.read()
    return sorted(set(m.decode() for m in re.findall(rb"kiln/[a-z_]+\.py(?=\0)", data)))


def frozen_kiln(build=ESP_BUILD, image=ESP_IMAGE):
    """{module: bytecode bytes} of the frozen kiln package (.mpy files mpy-cross made)."""
    folder = os.path.join(build, "frozen_mpy")
    return {name[5:-3]: os.path.getsize(os.path.join(folder, name[:-3] + ".mpy"))
            for name in frozen_names(image)}


def emulated_heap(image=ESP_IMAGE):
    """(free heap after boot, after `from kiln import App`) on the emulated ESP8266."""
    with emulate.Emulator(image) as emu:
        boot, imported = emu.run(HEAP_PROBE).split()
    return int(boot), int(imported)


def unix_heap(firmware=UNIX_FW):
    out = subprocess.run([firmware, "-X", "heapsize=256k", "-c", HEAP_PROBE], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def unix_text(firmware=UNIX_FW):
    out = subprocess.run(["size", firmware], check=True, capture_output=True, text=True).stdout
    return int(out.splitlines()[1].split()[0])


def kib(n):
    return "%.1f KB" % (n / 1024)


def report():
    mem = esp8266_memory()
    objects = kiln_objects()
    frozen = frozen_kiln()
    boot, imported = emulated_heap()
    u_boot, u_imported = unix_heap()
    image = os.path.getsize(ESP_IMAGE)
    lines = [
        "## Device budgets",
        "",
        "`make size` (`bench/device_budgets.py`): the ESP8266_GENERIC image that `make esp8266` "
        "builds here, its ELF measured with `xtensa-lx106-elf-size`, its heap in the emulated "
        "ESP8266 (`tools/emulate.py`: QEMU, real boot ROM, no network), and the unix firmware "
        "(64-bit). `tests/test_esp8266_image.py` holds these figures to budgets.",
        "",
        "| ESP8266_GENERIC | bytes | |",
        "|---|---:|---|",
        "| `firmware.bin` | %d | %s |" % (image, kib(image)),
        "| IRAM used | %d | %s free of 32 KB |" % (mem["iram"], kib(mem["iram_free"])),
        "| irom0 (code and constants in flash) | %d | |" % mem["irom0"],
        "| static RAM (data + bss) | %d | |" % mem["dram"],
        "| `_kiln` code, all in irom0 | %d | %d objects |" % (sum(objects.values()), len(objects)),
        "| frozen `kiln` bytecode | %d | %d modules |" % (sum(frozen.values()), len(frozen)),
        "| heap free after boot (emulated) | %d | |" % boot,
        "| heap free after `from kiln import App` | %d | the import takes %d |" % (imported, boot - imported),
        "",
        "| `_kiln` object (xtensa, -Os) | code bytes |",
        "|---|---:|",
    ]
    lines += ["| `%s` | %d |" % item for item in objects.items()]
    lines += ["", "| frozen module | bytecode bytes |", "|---|---:|"]
    lines += ["| `kiln.%s` | %d |" % item for item in frozen.items()]
    lines += [
        "",
        "| unix firmware (`firmware/UNIX/kiln`, 64-bit) | bytes |",
        "|---|---:|",
        "| text | %d |" % unix_text(),
        "| heap `from kiln import App` takes (`-X heapsize=256k`) | %d |" % (u_boot - u_imported),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
