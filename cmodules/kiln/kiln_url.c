// Strings made from request bytes (kiln_url.h), _kiln.url_decode and _kiln.parse_qs.
#include <string.h>

#include "py/runtime.h"
#include "py/objstr.h"
#include "py/unicode.h"
#include "kiln_http.h"
#include "kiln_url.h"

#define CHECK_UTF8 (MICROPY_PY_BUILTINS_STR_UNICODE && MICROPY_PY_BUILTINS_STR_UNICODE_CHECK)

#if CHECK_UTF8
// The length of the UTF-8 sequence lead byte b starts, 0 for a byte that starts none.
static size_t utf8_len(byte b) {
    if (b < 0x80) {
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        return 2;
    }
    if (b >= 0xe0 && b <= 0xef) {
        return 3;
    }
    return b >= 0xf0 && b <= 0xf4 ? 4 : 0;
}

// A str of s[0..n) with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
static mp_obj_t new_str_replacing(const byte *s, size_t n) {
    vstr_t v;
    vstr_init(&v, n + 3);
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_len(s[i]);
        if (len && len <= n - i && utf8_check(s + i, len)) {
            vstr_add_strn(&v, (const char *)s + i, len);
            i += len;
        } else {
            vstr_add_strn(&v, "\xef\xbf\xbd", 3);
            i += 1;
        }
    }
    return mp_obj_new_str_from_vstr(&v);
}
#endif

// Like mp_obj_new_str, without its search of the interned strings (which request data seldom
// hits and which costs more than the copy) and with its hash left to be computed if ever needed
// (hash 0, see py/objstr.h): most header values are never hashed.
mp_obj_t kiln_new_str(const char *s, size_t n) {
    if (n == 0) {
        return MP_OBJ_NEW_QSTR(MP_QSTR_);
    }
    if (n == 1 && s[0] == '/') {
        return MP_OBJ_NEW_QSTR(MP_QSTR__slash_);
    }
    #if CHECK_UTF8
    if (!utf8_check((const byte *)s, n)) {
        return new_str_replacing((const byte *)s, n);
    }
    #endif
    byte *data = m_new(byte, n + 1);
    memcpy(data, s, n);
    data[n] = '\0';
    mp_obj_str_t *o = mp_obj_malloc(mp_obj_str_t, &mp_type_str);
    o->hash = 0;
    o->len = n;
    o->data = data;
    return MP_OBJ_FROM_PTR(o);
}

mp_obj_t kiln_decode_str(const char *s, size_t n, int plus) {
    if (!kiln_http_url_needs_decode(s, n, plus)) {
        return kiln_new_str(s, n);
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    vstr.len = kiln_http_url_decode(vstr.buf, s, n, plus);
    #if CHECK_UTF8
    if (!utf8_check((const byte *)vstr.buf, vstr.len)) {
        mp_obj_t str = new_str_replacing((const byte *)vstr.buf, vstr.len);
        vstr_clear(&vstr);
        return str;
    }
    #endif
    return mp_obj_new_str_from_vstr(&vstr);
}

// _kiln.url_decode(s, plus=False): s percent-decoded (s itself when nothing changes).
static mp_obj_t kiln_url_decode(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_s, ARG_plus };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_s, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_plus, MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    mp_obj_t s = args[ARG_s].u_obj;
    size_t n;
    const char *data = mp_obj_str_get_data(s, &n);
    if (mp_obj_is_str(s) && !kiln_http_url_needs_decode(data, n, args[ARG_plus].u_bool)) {
        return s;
    }
    return kiln_decode_str(data, n, args[ARG_plus].u_bool);
}
MP_DEFINE_CONST_FUN_OBJ_KW(kiln_url_decode_obj, 1, kiln_url_decode);

// _kiln.parse_qs(s): the decoded (name, value) pairs of a query string or urlencoded form.
static mp_obj_t kiln_parse_qs(mp_obj_t s) {
    size_t n, pos = 0;
    const char *qs = mp_obj_str_get_data(s, &n);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    kiln_http_span_t name, value;
    while (kiln_http_query_next(qs, n, &pos, &name, &value)) {
        // qs stays valid: a str or bytes object never moves.
        mp_obj_t pair[2] = {
            kiln_decode_str(qs + name.off, name.len, 1),
            kiln_decode_str(qs + value.off, value.len, 1),
        };
        mp_obj_list_append(list, mp_obj_new_tuple(2, pair));
    }
    return list;
}
MP_DEFINE_CONST_FUN_OBJ_1(kiln_parse_qs_obj, kiln_parse_qs);
