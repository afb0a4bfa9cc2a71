set(IDF_TARGET esp32)
set(KILN_SDKCONFIG boards/sdkconfig.ble)
include(${MICROPY_BOARD_DIR}/../esp32_common.cmake)
