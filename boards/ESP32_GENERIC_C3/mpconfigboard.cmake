set(IDF_TARGET esp32c3)
set(KILN_SDKCONFIG boards/sdkconfig.ble boards/ESP32_GENERIC_C3/sdkconfig.c3usb)
include(${MICROPY_BOARD_DIR}/../esp32_common.cmake)
