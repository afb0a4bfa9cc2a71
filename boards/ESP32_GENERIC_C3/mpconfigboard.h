// Generic ESP32-C3 module (4 MiB flash) with Kiln.
#define MICROPY_HW_BOARD_NAME "ESP32C3 module with Kiln"
#define MICROPY_HW_MCU_NAME "ESP32C3"

// Modules with a USB-UART bridge need the UART REPL as well as native USB.
#define MICROPY_HW_ENABLE_UART_REPL (1)

#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (8)
#endif

// kiln.app answers a failing view through sys.exc_info() (cheaper than its fallback guard).
#define MICROPY_PY_SYS_EXC_INFO (1)
