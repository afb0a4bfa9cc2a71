// ESP8266 module (2 MiB flash or more) with Kiln: the port's 2 MiB feature set, without the
// inline assembler and ESP-NOW, to leave heap for connections.
#define MICROPY_HW_BOARD_NAME "ESP module with Kiln"
#define MICROPY_HW_MCU_NAME "ESP8266"

#define MICROPY_PERSISTENT_CODE_LOAD    (1)
#define MICROPY_EMIT_XTENSA             (1)

#define MICROPY_ERROR_REPORTING         (MICROPY_ERROR_REPORTING_NORMAL)

#define MICROPY_READER_VFS              (MICROPY_VFS)
#define MICROPY_VFS                     (1)

#define MICROPY_PY_CRYPTOLIB            (1)

// Kiln's limits for a board with about 40 KB of free heap.
#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (4)
#endif
// Files go out in blocks of 2 KB at most (lwIP's send buffer here is 2 segments, 2,920 bytes).
#ifndef KILN_FILE_BLOCK
#define KILN_FILE_BLOCK (2048)
#endif

// kiln.app answers a failing view through sys.exc_info() (cheaper than its fallback guard).
#define MICROPY_PY_SYS_EXC_INFO (1)
