"""The ESP32 boards' partition tables (boards/ESP32_GENERIC*/partitions.csv), parsed the way
ESP-IDF's gen_esp32part.py reads them (esptool 5 does not ship it): two OTA app slots and
otadata for kiln.fwota, each slot at least the board's image budget, aligned, in order, inside
the flash the board declares, and a filesystem left for the app's slots (kiln.slots).

The image budgets are upper bounds for firmware/<BOARD>/micropython.bin (the app image; ESP-IDF
is not reachable here, so they are not measured on this machine: MicroPython v1.25.0's own
ESP32_GENERIC app is about 1.6 MB, and upstream shrinks it with -Os to fit its 1.5 MiB OTA
slots; Kiln keeps -O2 and sizes the slots instead). When an image has been built, its size is
checked against its slot too."""

import re

import pytest
from conftest import ROOT

BOARDS = ("ESP32_GENERIC", "ESP32_GENERIC_C3", "ESP32_GENERIC_S3")
IMAGE_BUDGET = {"ESP32_GENERIC": 1_800_000, "ESP32_GENERIC_C3": 1_800_000, "ESP32_GENERIC_S3": 2_400_000}
MIN_FILESYSTEM = 384 * 1024
TYPES = {"app": 0x00, "data": 0x01}
SUBTYPES = {"app": {"factory": 0x00, "ota_0": 0x10, "ota_1": 0x11},
            "data": {"ota": 0x00, "phy": 0x01, "nvs": 0x02, "fat": 0x81, "spiffs": 0x82, "littlefs": 0x83}}


def number(text):
    text = text.strip()
    scale = 1
    if text[-1:].upper() in ("K", "M"):
        scale = 1024 if text[-1].upper() == "K" else 1024 * 1024
        text = text[:-1]
    return int(text, 0) * scale


def parse(path):
    """[(name, type, subtype, offset, size)] like gen_esp32part.py: comments and blank lines
    skipped, every field but flags required here (Kiln's tables give explicit offsets)."""
    rows = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        name, kind, sub, offset, size = fields[:5]
        assert kind in TYPES and sub in SUBTYPES[kind], line
        rows.append((name, kind, sub, number(offset), number(size)))
    return rows


def flash_size(board):
    text = (ROOT / "boards" / board / "sdkconfig.board").read_text()
    return int(re.search(r"^CONFIG_ESPTOOLPY_FLASHSIZE_(\d+)MB=y", text, re.M).group(1)) * 1024 * 1024


@pytest.mark.parametrize("board", BOARDS)
def test_the_table_has_two_ota_slots_and_otadata_and_no_factory_app(board):
    rows = {r[2]: r for r in parse(ROOT / "boards" / board / "partitions.csv")}
    assert {"ota_0", "ota_1", "ota"} <= set(rows) and "factory" not in rows
    assert rows["ota"][1] == "data" and rows["ota"][4] == 0x2000  # otadata: two 4 KB sectors


@pytest.mark.parametrize("board", BOARDS)
def test_each_ota_slot_holds_the_image_budget(board):
    rows = {r[2]: r for r in parse(ROOT / "boards" / board / "partitions.csv")}
    assert rows["ota_0"][4] == rows["ota_1"][4] >= IMAGE_BUDGET[board]


@pytest.mark.parametrize("board", BOARDS)
def test_partitions_are_aligned_ordered_and_inside_the_flash(board):
    rows = parse(ROOT / "boards" / board / "partitions.csv")
    end = 0x9000  # after the bootloader and the partition table (0x8000, 4 KB)
    for name, kind, _, offset, size in rows:
        assert offset >= end, name
        assert offset % (0x10000 if kind == "app" else 0x1000) == 0, name
        end = offset + size
    assert end <= flash_size(board)


@pytest.mark.parametrize("board", BOARDS)
def test_a_filesystem_is_left_for_the_apps_slots(board):
    fs = [r for r in parse(ROOT / "boards" / board / "partitions.csv") if r[2] in ("fat", "littlefs")]
    assert len(fs) == 1 and fs[0][4] >= MIN_FILESYSTEM


def test_the_bootloader_rolls_back_an_unconfirmed_firmware():
    # MicroPython's ports/esp32/boards/sdkconfig.base, which every Kiln ESP32 board starts from
    # (boards/esp32_common.cmake), enables it; kiln.slots confirms a new firmware once it serves.
    base = ROOT / "build" / "micropython" / "ports" / "esp32" / "boards" / "sdkconfig.base"
    if not base.exists():
        pytest.skip("no MicroPython tree (make micropython)")
    assert "CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y" in base.read_text().splitlines()
    assert "boards/sdkconfig.base" in (ROOT / "boards" / "esp32_common.cmake").read_text()


@pytest.mark.parametrize("board", BOARDS)
def test_a_built_image_fits_its_budget_and_slot(board):
    image = ROOT / "firmware" / board / "micropython.bin"
    if not image.exists():
        pytest.skip("firmware/%s not built (make esp32 BOARD=%s needs ESP-IDF)" % (board, board))
    assert image.stat().st_size <= IMAGE_BUDGET[board]
