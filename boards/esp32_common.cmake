# Shared by Kiln's ESP32 boards: each board's mpconfigboard.cmake sets IDF_TARGET and
# KILN_SDKCONFIG (its own fragments), then includes this file.
#
# The partition table lives in the board folder; ESP-IDF needs its path inside an sdkconfig
# fragment, so write that fragment into the build folder with the absolute path.
set(KILN_PARTITIONS_FRAGMENT ${CMAKE_BINARY_DIR}/sdkconfig.kiln_partitions)
file(WRITE ${KILN_PARTITIONS_FRAGMENT}
    "CONFIG_PARTITION_TABLE_CUSTOM=y\nCONFIG_PARTITION_TABLE_CUSTOM_FILENAME=\"${MICROPY_BOARD_DIR}/partitions.csv\"\n")

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    ${KILN_SDKCONFIG}
    ${MICROPY_BOARD_DIR}/../sdkconfig.kiln
    ${MICROPY_BOARD_DIR}/sdkconfig.board
    ${KILN_PARTITIONS_FRAGMENT}
)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
