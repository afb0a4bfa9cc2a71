// _kiln.Parser: feed bytes, get requests (the binding tests, kiln.testing and the benchmarks use
// it; the socket loop parses in kiln_input.c).
//
// The unconsumed input lives either in `src` from `src_pos` on (an immutable bytes object: the
// caller's own, or a finished buffer that still holds pipelined bytes), or in `acc` when a
// request spans several feeds or its chunked body must be decoded in place. A complete request
// keeps the object its head is in; the parser never writes to it again.
#include <string.h>

#include "py/runtime.h"
#include "modkiln.h"
#include "kiln_request.h"

enum { PH_HEAD, PH_BODY, PH_FAILED };

typedef struct _kiln_parser_obj_t {
    mp_obj_base_t base;
    mp_obj_t src;
    size_t src_pos;
    vstr_t acc;
    size_t raw_pos;     // chunked: first undecoded byte in acc
    size_t body_end;    // chunked: end of the decoded data in acc
    kiln_http_limits_t limits;
    kiln_http_request_t head;
    kiln_http_chunked_t chunked;
    const mp_obj_type_t *request_class;
    uint8_t phase;
    uint16_t max_headers;
    kiln_http_header_t headers[];
} kiln_parser_obj_t;

// Empties acc without allocating (the next append allocates).
static void acc_reset(vstr_t *acc) {
    acc->buf = NULL;
    acc->alloc = 0;
    acc->len = 0;
    acc->fixed_buf = false;
}

static NORETURN void raise_status(int status) {
    mp_obj_t args[2] = {
        MP_OBJ_NEW_SMALL_INT(status),
        mp_obj_new_str_from_cstr(kiln_reason(status)),
    };
    nlr_raise(mp_obj_new_exception_args(&mp_type_ValueError, 2, args));
}

static mp_obj_t parser_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_max_request_line, ARG_max_header_line, ARG_max_head, ARG_max_headers, ARG_max_body,
           ARG_custom_methods, ARG_lenient_lf, ARG_request_class };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_max_request_line, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_REQUEST_LINE} },
        { MP_QSTR_max_header_line, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEADER_LINE} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEAD} },
        { MP_QSTR_max_headers, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEADERS} },
        { MP_QSTR_max_body, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_BODY} },
        { MP_QSTR_custom_methods, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_lenient_lf, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_request_class, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, args);
    for (size_t i = 0; i < ARG_custom_methods; i++) {
        mp_int_t v = args[i].u_int;
        if (v < 1 || v > (i == ARG_max_body ? (mp_int_t)0x7fffffff : 65535)) {
            mp_raise_ValueError(MP_ERROR_TEXT("limit out of range"));
        }
    }
    size_t max_headers = args[ARG_max_headers].u_int;
    kiln_parser_obj_t *self = mp_obj_malloc_var(kiln_parser_obj_t, headers, kiln_http_header_t, max_headers, type);
    self->src = MP_OBJ_NULL;
    self->src_pos = 0;
    acc_reset(&self->acc);
    self->limits.max_request_line = args[ARG_max_request_line].u_int;
    self->limits.max_header_line = args[ARG_max_header_line].u_int;
    self->limits.max_head = args[ARG_max_head].u_int;
    self->limits.max_body = args[ARG_max_body].u_int;
    self->limits.allow = (args[ARG_custom_methods].u_bool ? KILN_HTTP_ALLOW_CUSTOM : 0)
        | (args[ARG_lenient_lf].u_bool ? KILN_HTTP_ALLOW_BARE_LF : 0);
    self->max_headers = max_headers;
    self->request_class = kiln_request_class(args[ARG_request_class].u_obj);
    self->phase = PH_HEAD;
    kiln_http_request_reset(&self->head);
    memset(&self->chunked, 0, sizeof(self->chunked));
    return MP_OBJ_FROM_PTR(self);
}

// Moves the unconsumed bytes of src into acc, so that they can be appended to or decoded.
static void parser_take_src(kiln_parser_obj_t *self) {
    if (self->src != MP_OBJ_NULL) {
        size_t n;
        const char *s = mp_obj_str_get_data(self->src, &n);
        vstr_add_strn(&self->acc, s + self->src_pos, n - self->src_pos);
        self->src = MP_OBJ_NULL;
    }
}

// Builds the Request once head and body are complete: `total` bytes of the input, the body
// is `body` (bytes) and `rest` bytes of input follow at `rest_off`.
static mp_obj_t parser_complete(kiln_parser_obj_t *self, mp_obj_t body, size_t total, size_t rest_off) {
    mp_obj_t buf;
    size_t base;
    if (self->acc.len) {
        // Hand acc over as a bytes object (no copy); what follows stays readable from it.
        buf = mp_obj_new_bytes_from_vstr(&self->acc);
        acc_reset(&self->acc);
        base = 0;
        self->src = buf;
        self->src_pos = rest_off;
    } else {
        buf = self->src;
        base = self->src_pos;
        self->src_pos += total;
    }
    mp_obj_t req = kiln_request_new(self->request_class, buf, base, &self->head, self->headers);
    kiln_request_set_body(req, body);
    kiln_http_request_reset(&self->head);
    memset(&self->chunked, 0, sizeof(self->chunked));
    self->phase = PH_HEAD;
    return req;
}

static NORETURN void parser_fail(kiln_parser_obj_t *self, int status) {
    self->phase = PH_FAILED;
    self->head.s_status = status;
    raise_status(status);
}

// Takes in the caller's bytes: the caller's own immutable bytes object when nothing is pending
// (no copy), else appended to acc.
static void parser_add(kiln_parser_obj_t *self, mp_obj_t data_in) {
    mp_buffer_info_t in;
    mp_get_buffer_raise(data_in, &in, MP_BUFFER_READ);
    if (in.len == 0) {
        return;
    }
    size_t src_len = 0;
    if (self->src != MP_OBJ_NULL) {
        mp_obj_str_get_data(self->src, &src_len);
    }
    if (self->acc.len == 0 && src_len == self->src_pos && mp_obj_is_type(data_in, &mp_type_bytes)) {
        self->src = data_in;
        self->src_pos = 0;
    } else {
        parser_take_src(self);
        vstr_add_strn(&self->acc, in.buf, in.len);
    }
}

// The unconsumed input in *buf and its length (0 when there is none).
static size_t parser_input(kiln_parser_obj_t *self, const char **buf) {
    size_t len = 0;
    if (self->acc.len) {
        *buf = self->acc.buf;
        len = self->acc.len;
    } else if (self->src != MP_OBJ_NULL) {
        *buf = mp_obj_str_get_data(self->src, &len) + self->src_pos;
        len -= self->src_pos;
    }
    return len;
}

// Waits for more input: what is left of the caller's object is copied, as the caller may reuse it.
static mp_obj_t parser_wait(kiln_parser_obj_t *self) {
    if (self->acc.len == 0) {
        parser_take_src(self);
    }
    return mp_const_none;
}

// A chunked body, decoded in acc, where bytes can be rewritten.
static mp_obj_t parser_chunked(kiln_parser_obj_t *self) {
    parser_wait(self);
    size_t n = self->acc.len - self->raw_pos;
    int r = kiln_http_decode_chunked(&self->chunked, self->acc.buf + self->raw_pos, &n, &self->limits);
    memmove(self->acc.buf + self->body_end, self->acc.buf + self->raw_pos, n);
    self->body_end += n;
    if (r == KILN_HTTP_INCOMPLETE) {
        // Every raw byte is decoded: keep only the decoded body.
        self->acc.len = self->raw_pos = self->body_end;
        return mp_const_none;
    }
    if (r < 0) {
        parser_fail(self, -r);
    }
    // The r bytes after the body were moved right behind the decoded ones: drop the gap.
    size_t head_len = self->head.head_len;
    size_t rest_off = self->raw_pos + n;
    self->acc.len = rest_off + r;
    mp_obj_t body = mp_obj_new_bytes((const byte *)self->acc.buf + head_len, self->body_end - head_len);
    return parser_complete(self, body, rest_off, rest_off);
}

// A body of Content-Length bytes (none without one) in buf[0..len), the head included.
static mp_obj_t parser_sized(kiln_parser_obj_t *self, const char *buf, size_t len) {
    const kiln_http_request_t *h = &self->head;
    size_t cl = (h->flags & KILN_HTTP_F_CONTENT_LENGTH) ? h->content_length : 0;
    if (len - h->head_len < cl) {
        return parser_wait(self);
    }
    mp_obj_t body = cl ? mp_obj_new_bytes((const byte *)buf + h->head_len, cl) : mp_const_empty_bytes;
    return parser_complete(self, body, h->head_len + cl, h->head_len + cl);
}

// Parser.feed(data): a request once its head and body are complete, else None.
static mp_obj_t parser_feed(mp_obj_t self_in, mp_obj_t data_in) {
    kiln_parser_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->phase == PH_FAILED) {
        raise_status(self->head.s_status ? self->head.s_status : 400);
    }
    parser_add(self, data_in);
    const char *buf = NULL;
    size_t len = parser_input(self, &buf);
    if (len == 0) {
        return mp_const_none;
    }
    if (self->phase == PH_HEAD) {
        int r = kiln_http_parse_request(&self->head, buf, len, self->headers, self->max_headers, &self->limits);
        if (r == KILN_HTTP_INCOMPLETE) {
            return parser_wait(self);
        }
        if (r < 0) {
            parser_fail(self, -r);
        }
        self->phase = PH_BODY;
        self->raw_pos = self->body_end = r;
    }
    if (self->head.flags & KILN_HTTP_F_CHUNKED) {
        return parser_chunked(self);
    }
    return parser_sized(self, buf, len);
}
static MP_DEFINE_CONST_FUN_OBJ_2(parser_feed_obj, parser_feed);

static const mp_rom_map_elem_t parser_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_feed), MP_ROM_PTR(&parser_feed_obj) },
};
static MP_DEFINE_CONST_DICT(parser_locals, parser_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_type_parser,
    MP_QSTR_Parser,
    MP_TYPE_FLAG_NONE,
    make_new, parser_make_new,
    locals_dict, &parser_locals
    );

