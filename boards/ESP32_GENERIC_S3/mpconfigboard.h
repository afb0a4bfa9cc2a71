// Generic ESP32-S3 module (8 MiB flash, optional quad SPIRAM) with Kiln.
#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME "Generic ESP32S3 module with Kiln"
#endif
#define MICROPY_HW_MCU_NAME "ESP32S3"

// Modules with a USB-UART bridge need the UART REPL as well as native USB.
#define MICROPY_HW_ENABLE_UART_REPL (1)

#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (16)
#endif

// kiln.app answers a failing view through sys.exc_info() (cheaper than its fallback guard).
#define MICROPY_PY_SYS_EXC_INFO (1)
