// _kiln.Headers: a lazy, case-insensitive, read-only view of a request's header lines; the
// strings are made from the receive buffer when asked for.
#include "py/runtime.h"
#include "kiln_request.h"
#include "kiln_url.h"

typedef struct _kiln_headers_obj_t {
    mp_obj_base_t base;
    mp_obj_t owner;     // the request (kiln_request.h: never its native part)
} kiln_headers_obj_t;

mp_obj_t kiln_headers_new(mp_obj_t req) {
    kiln_headers_obj_t *o = mp_obj_malloc(kiln_headers_obj_t, &kiln_type_headers);
    o->owner = req;
    return MP_OBJ_FROM_PTR(o);
}

void kiln_headers_set_owner(mp_obj_t headers, mp_obj_t req) {
    ((kiln_headers_obj_t *)MP_OBJ_TO_PTR(headers))->owner = req;
}

static kiln_request_obj_t *headers_req(kiln_headers_obj_t *self) {
    return kiln_request_native(self->owner);
}

// Index of the first header named name_in at index from or later, -1 when none.
static int headers_find(kiln_headers_obj_t *self, const char **data, mp_obj_t name_in, size_t from) {
    size_t n;
    const char *name = mp_obj_str_get_data(name_in, &n);
    kiln_request_obj_t *req = headers_req(self);
    *data = kiln_request_data(req);
    return kiln_http_find_header(*data, req->headers, req->head.num_headers, from, name, n);
}

static mp_obj_t header_value(kiln_headers_obj_t *self, const char *data, int i) {
    const kiln_http_header_t *h = &headers_req(self)->headers[i];
    return kiln_new_str(data + h->value_off, h->value_len);
}

static mp_obj_t header_name(kiln_headers_obj_t *self, const char *data, size_t i) {
    const kiln_http_header_t *h = &headers_req(self)->headers[i];
    return kiln_new_str(data + h->name_off, h->name_len);
}

static mp_obj_t headers_subscr(mp_obj_t self_in, mp_obj_t index, mp_obj_t value) {
    if (value != MP_OBJ_SENTINEL) {
        mp_raise_TypeError(MP_ERROR_TEXT("headers are read-only"));
    }
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const char *data;
    int i = headers_find(self, &data, index, 0);
    if (i < 0) {
        mp_raise_type_arg(&mp_type_KeyError, index);
    }
    return header_value(self, data, i);
}

static mp_obj_t headers_get(size_t n_args, const mp_obj_t *args) {
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    const char *data;
    int i = headers_find(self, &data, args[1], 0);
    if (i < 0) {
        return n_args > 2 ? args[2] : mp_const_none;
    }
    return header_value(self, data, i);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(headers_get_obj, 2, 3, headers_get);

static mp_obj_t headers_getall(mp_obj_t self_in, mp_obj_t name) {
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    const char *data;
    for (int i = headers_find(self, &data, name, 0); i >= 0; i = headers_find(self, &data, name, i + 1)) {
        mp_obj_list_append(list, header_value(self, data, i));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_2(headers_getall_obj, headers_getall);

// A list of the header names, or of (name, value) pairs.
static mp_obj_t header_list(kiln_headers_obj_t *self, bool pairs) {
    size_t n = headers_req(self)->head.num_headers;
    mp_obj_t list = mp_obj_new_list(n, NULL);
    mp_obj_list_t *l = MP_OBJ_TO_PTR(list);
    const char *data = kiln_request_data(headers_req(self));
    for (size_t i = 0; i < n; i++) {
        // Making the strings may collect garbage, but never moves the buffer: data stays valid.
        mp_obj_t name = header_name(self, data, i);
        if (pairs) {
            mp_obj_t pair[2] = { name, header_value(self, data, i) };
            name = mp_obj_new_tuple(2, pair);
        }
        l->items[i] = name;
    }
    return list;
}

static mp_obj_t headers_items(mp_obj_t self_in) {
    return header_list(MP_OBJ_TO_PTR(self_in), true);
}
static MP_DEFINE_CONST_FUN_OBJ_1(headers_items_obj, headers_items);

static mp_obj_t headers_getiter(mp_obj_t self_in, mp_obj_iter_buf_t *iter_buf) {
    (void)iter_buf;
    return mp_getiter(header_list(MP_OBJ_TO_PTR(self_in), false), NULL);
}

static mp_obj_t headers_unary_op(mp_unary_op_t op, mp_obj_t self_in) {
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t n = headers_req(self)->head.num_headers;
    switch (op) {
        case MP_UNARY_OP_BOOL:
            return mp_obj_new_bool(n != 0);
        case MP_UNARY_OP_LEN:
            return MP_OBJ_NEW_SMALL_INT(n);
        default:
            return MP_OBJ_NULL;
    }
}

static mp_obj_t headers_binary_op(mp_binary_op_t op, mp_obj_t lhs, mp_obj_t rhs) {
    if (op != MP_BINARY_OP_CONTAINS || !mp_obj_is_str(rhs)) {
        return MP_OBJ_NULL;
    }
    const char *data;
    return mp_obj_new_bool(headers_find(MP_OBJ_TO_PTR(lhs), &data, rhs, 0) >= 0);
}

static const mp_rom_map_elem_t headers_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_get), MP_ROM_PTR(&headers_get_obj) },
    { MP_ROM_QSTR(MP_QSTR_getall), MP_ROM_PTR(&headers_getall_obj) },
    { MP_ROM_QSTR(MP_QSTR_items), MP_ROM_PTR(&headers_items_obj) },
};
static MP_DEFINE_CONST_DICT(headers_locals, headers_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_type_headers,
    MP_QSTR_Headers,
    MP_TYPE_FLAG_ITER_IS_GETITER,
    subscr, headers_subscr,
    iter, headers_getiter,
    unary_op, headers_unary_op,
    binary_op, headers_binary_op,
    locals_dict, &headers_locals
    );

