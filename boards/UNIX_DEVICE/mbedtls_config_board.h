// Mbed TLS for the 32-bit device profile: the unix port's configuration, allocating from
// MicroPython's heap as the bare-metal ports do, so that a TLS connection's memory shows in
// gc.mem_free() (on an esp32 it comes from ESP-IDF's heap, beside MicroPython's: the same bytes
// of the board's RAM). Entropy from the host, as the unix port's.
#ifndef KILN_UNIX_DEVICE_MBEDTLS_CONFIG_H
#define KILN_UNIX_DEVICE_MBEDTLS_CONFIG_H

#define MBEDTLS_CIPHER_MODE_CTR
#define MBEDTLS_TIMING_C
#define MICROPY_MBEDTLS_CONFIG_BARE_METAL (1)

#include "extmod/mbedtls/mbedtls_config_common.h"

#undef MBEDTLS_ENTROPY_HARDWARE_ALT
#undef MBEDTLS_NO_PLATFORM_ENTROPY

#endif
