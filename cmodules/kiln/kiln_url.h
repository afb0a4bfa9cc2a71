// Strings made from request bytes, and _kiln.url_decode / _kiln.parse_qs.
#ifndef KILN_URL_H
#define KILN_URL_H

#include "py/obj.h"

// A new str of s[0..n). Bytes that are not valid UTF-8 (a client's obs-text header value)
// become U+FFFD where the port checks str contents, so reading request data never raises.
mp_obj_t kiln_new_str(const char *s, size_t n);

// A new str of s[0..n) percent-decoded ('+' as space when plus), with the same replacement.
mp_obj_t kiln_decode_str(const char *s, size_t n, int plus);

MP_DECLARE_CONST_FUN_OBJ_KW(kiln_url_decode_obj);
MP_DECLARE_CONST_FUN_OBJ_1(kiln_parse_qs_obj);

#endif // KILN_URL_H
