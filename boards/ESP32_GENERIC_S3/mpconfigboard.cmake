set(IDF_TARGET esp32s3)
set(KILN_SDKCONFIG boards/sdkconfig.usb boards/sdkconfig.ble boards/sdkconfig.spiram_sx)
include(${MICROPY_BOARD_DIR}/../esp32_common.cmake)
