// The esp8266 port defines newlib's __assert(file, line, expr); picolibc's <assert.h> declares
// another signature. This header, first on the include path, gives the port newlib's interface.
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __assert_func(__FILE__, __LINE__, __func__, #e))
#endif

#ifndef KILN_COMPAT_ASSERT_H
#define KILN_COMPAT_ASSERT_H
void __assert(const char *file, int line, const char *expr) __attribute__((__noreturn__));
void __assert_func(const char *file, int line, const char *func, const char *expr) __attribute__((__noreturn__));
#if __STDC_VERSION__ >= 201112L && !defined __cplusplus
#define static_assert _Static_assert
#endif
#endif
