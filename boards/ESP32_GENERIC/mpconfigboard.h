// Generic ESP32 module (WROOM, 4 MiB flash) with Kiln.
#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME "Generic ESP32 module with Kiln"
#endif

#ifndef MICROPY_HW_MCU_NAME
#define MICROPY_HW_MCU_NAME "ESP32"
#endif

// Kiln's limits for this board (see cmodules/kiln for every knob and its default).
#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (8)
#endif

// kiln.app answers a failing view through sys.exc_info() (cheaper than its fallback guard).
#define MICROPY_PY_SYS_EXC_INFO (1)
