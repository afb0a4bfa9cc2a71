// Kiln's 32-bit device profile of the unix firmware: the ESP8266 port's feature level
// (ports/esp8266/mpconfigport.h and this project's boards/ESP8266_GENERIC), built with
// MICROPY_FORCE_32BIT=1 so objects and heap blocks have a device's size. Run it with the
// device's heap (-X heapsize=38k for an ESP8266, 110k for an ESP32 without SPIRAM).
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// As on the ESP8266: 30-bit small ints and single-precision floats packed into the object word.
#define MICROPY_OBJ_REPR (MICROPY_OBJ_REPR_C)
#define MICROPY_FLOAT_IMPL (MICROPY_FLOAT_IMPL_FLOAT)
// The port defines its word types only when the variant leaves the object model alone.
typedef int mp_int_t;
typedef unsigned int mp_uint_t;

// What the ESP8266 port turns off below its ROM level.
#define MICROPY_COMP_MODULE_CONST (0)
#define MICROPY_COMP_TRIPLE_TUPLE_ASSIGN (0)
#define MICROPY_COMP_RETURN_IF_EXPR (0)
#define MICROPY_OPT_LOAD_ATTR_FAST_PATH (0)
#define MICROPY_OPT_MAP_LOOKUP_CACHE (0)
#define MICROPY_OPT_MPZ_BITWISE (0)
#define MICROPY_OPT_MATH_FACTORIAL (0)
#define MICROPY_PY_BUILTINS_COMPLEX (0)
#define MICROPY_PY_DELATTR_SETATTR (0)
#define MICROPY_PY_BUILTINS_STR_CENTER (0)
#define MICROPY_PY_BUILTINS_STR_PARTITION (0)
#define MICROPY_PY_BUILTINS_STR_SPLITLINES (0)
#define MICROPY_PY_BUILTINS_SLICE_INDICES (0)
#define MICROPY_PY_BUILTINS_COMPILE (0)
#define MICROPY_PY_BUILTINS_EXECFILE (0)
#define MICROPY_PY_BUILTINS_NOTIMPLEMENTED (0)
#define MICROPY_PY_BUILTINS_POW3 (0)
#define MICROPY_PY___FILE__ (0)
#define MICROPY_PY_MATH_CONSTANTS (0)
#define MICROPY_PY_MATH_SPECIAL_FUNCTIONS (0)
#define MICROPY_PY_MATH_FACTORIAL (0)
#define MICROPY_PY_MATH_ISCLOSE (0)
#define MICROPY_PY_BINASCII_CRC32 (0)
#define MICROPY_PY_RANDOM_EXTRA_FUNCS (0)

// The Kiln ESP8266 board's connection limit (boards/ESP8266_GENERIC/mpconfigboard.h).
#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (4)
#endif

// Files through the send buffer, as on the boards (lwIP has no sendfile): the heap figures of a
// file being sent are the boards' (kiln_server.h).
#define KILN_SENDFILE (0)

#include "variants/mpconfigvariant_common.h"

// The ESP8266's error messages (the common unix settings ask for detailed ones).
#undef MICROPY_ERROR_REPORTING
#define MICROPY_ERROR_REPORTING (MICROPY_ERROR_REPORTING_NORMAL)

// ssl and hashlib from Mbed TLS, allocating from the heap (mbedtls_config_board.h).
#define MICROPY_TRACKED_ALLOC (1)
