// _kiln.Request, _kiln.Headers, _kiln.Parser, _kiln.url_decode and _kiln.parse_qs.
//
// A Request copies the parsed head (offsets only) into itself and keeps the receive buffer
// object alive; strings are made from the buffer when Python asks for them. It is also the
// request object handlers get: a Python class set as its `_class` gives it methods, class
// attributes and `__getattr__`, and it keeps the attributes Python stores on it, so that the
// framework needs no wrapper object per request.
#include <string.h>

#include "py/objtype.h"
#include "py/runtime.h"
#include "py/objstr.h"
#include "py/unicode.h"
#include "modkiln.h"
#include "kiln_request.h"

typedef struct _kiln_request_obj_t {
    mp_obj_base_t base;
    mp_obj_t buf;           // the receive buffer (bytes/bytearray); MP_OBJ_NULL once finished
    mp_obj_t path;          // the decoded path, made on first read
    mp_obj_t headers_obj;   // the Headers view, made on first read
    mp_obj_t body;
    mp_obj_t stream;
    mp_obj_t client_addr;
    mp_obj_t cls;           // the Python class extending it (`_class`), or MP_OBJ_NULL
    mp_map_t attrs;         // what Python stored on it
    size_t offset;          // where the head starts in buf
    kiln_http_request_t head;
    kiln_http_header_t headers[];
} kiln_request_obj_t;

typedef struct _kiln_headers_obj_t {
    mp_obj_base_t base;
    kiln_request_obj_t *req;
} kiln_headers_obj_t;

static const MP_DEFINE_STR_OBJ(kiln_version_10_obj, "1.0");
static const MP_DEFINE_STR_OBJ(kiln_version_11_obj, "1.1");

// _kiln.METHODS: the names of the methods the parser knows (KILN_HTTP_GET...), in their order;
// what a route may be registered for.
const mp_rom_obj_tuple_t kiln_methods_obj = {
    {&mp_type_tuple}, KILN_HTTP_TRACE - KILN_HTTP_GET + 1,
    {
        MP_ROM_QSTR(MP_QSTR_GET), MP_ROM_QSTR(MP_QSTR_HEAD), MP_ROM_QSTR(MP_QSTR_POST),
        MP_ROM_QSTR(MP_QSTR_PUT), MP_ROM_QSTR(MP_QSTR_DELETE), MP_ROM_QSTR(MP_QSTR_PATCH),
        MP_ROM_QSTR(MP_QSTR_OPTIONS), MP_ROM_QSTR(MP_QSTR_CONNECT), MP_ROM_QSTR(MP_QSTR_TRACE),
    },
};
_Static_assert(KILN_HTTP_GET == 1 && KILN_HTTP_TRACE == 9, "kiln_methods_obj names every parser method in enum order");

// The head's bytes, or RuntimeError once the request is finished.
static const char *request_data(kiln_request_obj_t *self) {
    if (self->buf == MP_OBJ_NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("request finished"));
    }
    mp_buffer_info_t info;
    mp_get_buffer_raise(self->buf, &info, MP_BUFFER_READ);
    return (const char *)info.buf + self->offset;
}

#if MICROPY_PY_BUILTINS_STR_UNICODE && MICROPY_PY_BUILTINS_STR_UNICODE_CHECK
// A str of s[0..n) with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD:
// a client's obs-text header value or %ff in a path is read, never raises.
static mp_obj_t new_str_replacing(const byte *s, size_t n) {
    vstr_t v;
    vstr_init(&v, n + 3);
    size_t i = 0;
    while (i < n) {
        byte b = s[i];
        size_t len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3
            : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
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

// A new str of s[0..n): like mp_obj_new_str, without its search of the interned strings (which
// request data seldom hits and which costs more than the copy) and with its hash left to be
// computed if ever needed (hash 0, see py/objstr.h): most header values are never hashed.
static mp_obj_t new_str(const char *s, size_t n) {
    if (n == 0) {
        return MP_OBJ_NEW_QSTR(MP_QSTR_);
    }
    if (n == 1 && s[0] == '/') {
        return MP_OBJ_NEW_QSTR(MP_QSTR__slash_);
    }
    #if MICROPY_PY_BUILTINS_STR_UNICODE && MICROPY_PY_BUILTINS_STR_UNICODE_CHECK
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

static mp_obj_t request_str(kiln_request_obj_t *self, size_t off, size_t len) {
    const char *data = request_data(self);
    return new_str(data + off, len);
}

// Percent-decodes s[0..n) into a new str.
static mp_obj_t decode_str(const char *s, size_t n, int plus) {
    if (!kiln_http_url_needs_decode(s, n, plus)) {
        return new_str(s, n);
    }
    vstr_t vstr;
    vstr_init_len(&vstr, n);
    vstr.len = kiln_http_url_decode(vstr.buf, s, n, plus);
    #if MICROPY_PY_BUILTINS_STR_UNICODE && MICROPY_PY_BUILTINS_STR_UNICODE_CHECK
    if (!utf8_check((const byte *)vstr.buf, vstr.len)) {
        mp_obj_t str = new_str_replacing((const byte *)vstr.buf, vstr.len);
        vstr_clear(&vstr);
        return str;
    }
    #endif
    return mp_obj_new_str_from_vstr(&vstr);
}

mp_obj_t kiln_request_new(mp_obj_t buf_obj, size_t base, const kiln_http_request_t *head,
    const kiln_http_header_t *headers) {
    // The Headers view is made first, and with every request: MicroPython's allocator resumes
    // its search for free blocks after the last single-block allocation, so a server whose
    // only allocation per request were the (multi-block) Request would search the heap's
    // long-lived objects every time (12k instructions per request on a fresh unix heap).
    kiln_headers_obj_t *view = mp_obj_malloc(kiln_headers_obj_t, &kiln_type_headers);
    kiln_request_obj_t *self = mp_obj_malloc_var(kiln_request_obj_t, headers, kiln_http_header_t,
        head->num_headers, &kiln_type_request);
    view->req = self;
    self->buf = buf_obj;
    self->path = MP_OBJ_NULL;
    self->headers_obj = MP_OBJ_FROM_PTR(view);
    self->body = mp_const_empty_bytes;
    self->stream = mp_const_none;
    self->client_addr = mp_const_none;
    self->cls = MP_OBJ_NULL;
    mp_map_init(&self->attrs, 0);
    self->offset = base;
    self->head = *head;
    memcpy(self->headers, headers, head->num_headers * sizeof(kiln_http_header_t));
    return MP_OBJ_FROM_PTR(self);
}

void kiln_request_set_body(mp_obj_t req, mp_obj_t body) {
    ((kiln_request_obj_t *)MP_OBJ_TO_PTR(req))->body = body;
}

void kiln_request_set_client_addr(mp_obj_t req, mp_obj_t addr) {
    ((kiln_request_obj_t *)MP_OBJ_TO_PTR(req))->client_addr = addr;
}

const kiln_http_request_t *kiln_request_head(mp_obj_t req) {
    return &((kiln_request_obj_t *)MP_OBJ_TO_PTR(req))->head;
}

void kiln_request_detach(mp_obj_t req) {
    kiln_request_obj_t *self = MP_OBJ_TO_PTR(req);
    if (self->buf != MP_OBJ_NULL) {
        self->buf = mp_obj_new_bytes((const byte *)request_data(self), self->head.head_len);
        self->offset = 0;
    }
}

void kiln_request_finish(mp_obj_t req) {
    ((kiln_request_obj_t *)MP_OBJ_TO_PTR(req))->buf = MP_OBJ_NULL;
}

static mp_obj_t request_path(kiln_request_obj_t *self) {
    if (self->path == MP_OBJ_NULL) {
        const kiln_http_request_t *h = &self->head;
        if (h->path_len == 0) {
            self->path = MP_OBJ_NEW_QSTR(MP_QSTR__slash_);
        } else {
            self->path = decode_str(request_data(self) + h->path_off, h->path_len, 0);
        }
    }
    return self->path;
}

// Request.finish(): the Python face of kiln_request_finish.
static mp_obj_t request_finish(mp_obj_t self_in) {
    kiln_request_finish(self_in);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(request_finish_obj, request_finish);

static void request_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    kiln_request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const char *method = kiln_http_method_name(self->head.method);
    mp_printf(print, "<Request %s%s>", method ? method : "(custom)", self->buf == MP_OBJ_NULL ? " finished" : "");
}

// The fields the C side provides: fills dest and returns true, or returns false.
static bool request_field(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kiln_request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const kiln_http_request_t *h = &self->head;
    switch (attr) {
        case MP_QSTR_method:
            if (h->method != KILN_HTTP_OTHER) {
                dest[0] = (mp_obj_t)kiln_methods_obj.items[h->method - KILN_HTTP_GET];
            } else {
                dest[0] = request_str(self, h->method_off, h->method_len);
            }
            return true;
        case MP_QSTR_path:
            dest[0] = request_path(self);
            return true;
        case MP_QSTR_target:
            dest[0] = request_str(self, h->target_off, h->target_len);
            return true;
        case MP_QSTR_query_string:
            dest[0] = request_str(self, h->query_off, h->query_len);
            return true;
        case MP_QSTR_http_version:
            dest[0] = MP_OBJ_FROM_PTR(h->minor_version ? &kiln_version_11_obj : &kiln_version_10_obj);
            return true;
        case MP_QSTR_headers:
            if (self->headers_obj == MP_OBJ_NULL) {
                kiln_headers_obj_t *o = mp_obj_malloc(kiln_headers_obj_t, &kiln_type_headers);
                o->req = self;
                self->headers_obj = MP_OBJ_FROM_PTR(o);
            }
            dest[0] = self->headers_obj;
            return true;
        case MP_QSTR_content_length:
            dest[0] = (h->flags & KILN_HTTP_F_CONTENT_LENGTH)
                ? mp_obj_new_int_from_uint(h->content_length) : mp_const_none;
            return true;
        case MP_QSTR_chunked:
            dest[0] = mp_obj_new_bool(h->flags & KILN_HTTP_F_CHUNKED);
            return true;
        case MP_QSTR_keep_alive:
            dest[0] = mp_obj_new_bool(h->flags & KILN_HTTP_F_KEEP_ALIVE);
            return true;
        case MP_QSTR_expect_continue:
            dest[0] = mp_obj_new_bool(h->flags & KILN_HTTP_F_EXPECT_CONTINUE);
            return true;
        case MP_QSTR_upgrade:
            dest[0] = (h->flags & KILN_HTTP_F_UPGRADE)
                ? request_str(self, h->upgrade_off, h->upgrade_len) : mp_const_none;
            return true;
        case MP_QSTR_body:
            dest[0] = self->body;
            return true;
        case MP_QSTR_stream:
            dest[0] = self->stream;
            return true;
        case MP_QSTR_client_addr:
            dest[0] = self->client_addr;
            return true;
        case MP_QSTR_finish:
            dest[0] = MP_OBJ_FROM_PTR(&request_finish_obj);
            dest[1] = self_in;
            return true;
    }
    return false;
}

// The C fields' names: read-only to Python (stream and client_addr aside).
static bool is_field(qstr attr) {
    switch (attr) {
        case MP_QSTR_method: case MP_QSTR_path: case MP_QSTR_target: case MP_QSTR_query_string:
        case MP_QSTR_http_version: case MP_QSTR_headers: case MP_QSTR_content_length:
        case MP_QSTR_chunked: case MP_QSTR_keep_alive: case MP_QSTR_expect_continue:
        case MP_QSTR_upgrade: case MP_QSTR_body: case MP_QSTR_finish:
            return true;
        default:
            return false;
    }
}

// Whether a class may extend a request: it and its bases are Python classes (object aside). A
// built-in base's methods (list, dict...) would take the request for one of their own objects.
static bool can_extend(const mp_obj_type_t *t) {
    while (t != NULL && t != &mp_type_object) {
        if (!mp_obj_is_instance_type(t)) {
            return false;
        }
        const void *parent = MP_OBJ_TYPE_GET_SLOT_OR_NULL(t, parent);
        if (parent != NULL && ((const mp_obj_base_t *)parent)->type == &mp_type_tuple) {
            const mp_obj_tuple_t *bases = parent;
            for (size_t i = 0; i < bases->len; i++) {
                if (!can_extend(MP_OBJ_TO_PTR(bases->items[i]))) {
                    return false;
                }
            }
            return true;
        }
        t = parent;
    }
    return true;
}

// attr in a Python class or its bases (depth first), or MP_OBJ_NULL.
static mp_obj_t class_lookup(const mp_obj_type_t *t, qstr attr) {
    while (t != NULL && mp_obj_is_instance_type(t)) {
        const mp_obj_dict_t *locals = MP_OBJ_TYPE_GET_SLOT_OR_NULL(t, locals_dict);
        if (locals != NULL) {
            mp_map_elem_t *elem = mp_map_lookup((mp_map_t *)&locals->map, MP_OBJ_NEW_QSTR(attr), MP_MAP_LOOKUP);
            if (elem != NULL) {
                return elem->value;
            }
        }
        const void *parent = MP_OBJ_TYPE_GET_SLOT_OR_NULL(t, parent);
        if (parent != NULL && ((const mp_obj_base_t *)parent)->type == &mp_type_tuple) {
            const mp_obj_tuple_t *bases = parent;
            for (size_t i = 0; i < bases->len; i++) {
                mp_obj_t found = class_lookup(MP_OBJ_TO_PTR(bases->items[i]), attr);
                if (found != MP_OBJ_NULL) {
                    return found;
                }
            }
            return MP_OBJ_NULL;
        }
        t = parent;
    }
    return MP_OBJ_NULL;
}

// A name neither C nor the stored attributes know: the class's attribute (functions bound to
// the request), else the class's __getattr__(request, name).
static void request_class_attr(mp_obj_t self_in, const mp_obj_type_t *cls, qstr attr, mp_obj_t *dest) {
    mp_obj_t member = class_lookup(cls, attr);
    if (member != MP_OBJ_NULL) {
        #if MICROPY_PY_BUILTINS_PROPERTY
        if (mp_obj_is_type(member, &mp_type_property)) {
            mp_obj_t getter = mp_obj_property_get(member)[0];
            if (getter != mp_const_none) {
                dest[0] = mp_call_function_1(getter, self_in);
            }
            return;
        }
        #endif
        if (mp_obj_is_type(member, &mp_type_classmethod)) {
            dest[0] = ((mp_obj_static_class_method_t *)MP_OBJ_TO_PTR(member))->fun;
            dest[1] = MP_OBJ_FROM_PTR(cls);
            return;
        }
        mp_convert_member_lookup(self_in, cls, member, dest);
        return;
    }
    member = class_lookup(cls, MP_QSTR___getattr__);
    if (member != MP_OBJ_NULL) {
        dest[0] = mp_call_function_2(member, self_in, MP_OBJ_NEW_QSTR(attr));
    }
}

// A store to a name the class makes a property: its setter runs (true), or there is none and
// the store is refused (true, dest untouched); false for any other name.
static bool store_property(kiln_request_obj_t *self, qstr attr, mp_obj_t *dest) {
    #if MICROPY_PY_BUILTINS_PROPERTY
    const mp_obj_type_t *cls = MP_OBJ_TO_PTR(self->cls);
    if (self->cls == MP_OBJ_NULL || !(cls->flags & MP_TYPE_FLAG_HAS_SPECIAL_ACCESSORS)) {
        return false;
    }
    mp_obj_t member = class_lookup(cls, attr);
    if (member == MP_OBJ_NULL || !mp_obj_is_type(member, &mp_type_property)) {
        return false;
    }
    mp_obj_t setter = mp_obj_property_get(member)[1];
    if (setter != mp_const_none) {
        mp_call_function_2(setter, MP_OBJ_FROM_PTR(self), dest[1]);
        dest[0] = MP_OBJ_NULL;
    }
    return true;
    #else
    return false;
    #endif
}

static void request_store(kiln_request_obj_t *self, qstr attr, mp_obj_t *dest) {
    mp_obj_t key = MP_OBJ_NEW_QSTR(attr);
    if (attr == MP_QSTR__class) {
        mp_obj_t cls = dest[1] == MP_OBJ_NULL ? mp_const_none : dest[1];  // del: none
        if (cls != mp_const_none && !(mp_obj_is_type(cls, &mp_type_type) && can_extend(MP_OBJ_TO_PTR(cls)))) {
            mp_raise_TypeError(MP_ERROR_TEXT("_class must be a Python class"));
        }
        self->cls = cls == mp_const_none ? MP_OBJ_NULL : cls;
        dest[0] = MP_OBJ_NULL;
    } else if (dest[1] == MP_OBJ_NULL) {
        if (mp_map_lookup(&self->attrs, key, MP_MAP_LOOKUP_REMOVE_IF_FOUND) != NULL) {
            dest[0] = MP_OBJ_NULL;
        }
    } else if (attr == MP_QSTR_stream) {
        self->stream = dest[1];
        dest[0] = MP_OBJ_NULL;
    } else if (attr == MP_QSTR_client_addr) {
        self->client_addr = dest[1];
        dest[0] = MP_OBJ_NULL;
    } else if (!is_field(attr) && !store_property(self, attr, dest)) {
        mp_map_lookup(&self->attrs, key, MP_MAP_LOOKUP_ADD_IF_NOT_FOUND)->value = dest[1];
        dest[0] = MP_OBJ_NULL;
    }
}

static void request_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kiln_request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        request_store(self, attr, dest);
    } else if (!request_field(self_in, attr, dest)) {
        mp_map_elem_t *elem = mp_map_lookup(&self->attrs, MP_OBJ_NEW_QSTR(attr), MP_MAP_LOOKUP);
        if (elem != NULL) {
            dest[0] = elem->value;
        } else if (attr == MP_QSTR__class) {
            dest[0] = self->cls == MP_OBJ_NULL ? mp_const_none : self->cls;
        } else if (self->cls != MP_OBJ_NULL) {
            request_class_attr(self_in, MP_OBJ_TO_PTR(self->cls), attr, dest);
        }
    }
}

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_type_request,
    MP_QSTR_Request,
    MP_TYPE_FLAG_NONE,
    print, request_print,
    attr, request_attr
    );

// --- Headers: a lazy, case-insensitive view of a Request's header lines -----------------------

// Index of the first header named name_in at index from or later, -1 when none.
static int headers_find(kiln_headers_obj_t *self, const char **data, mp_obj_t name_in, size_t from) {
    size_t n;
    const char *name = mp_obj_str_get_data(name_in, &n);
    *data = request_data(self->req);
    return kiln_http_find_header(*data, self->req->headers, self->req->head.num_headers, from, name, n);
}

static mp_obj_t header_value(kiln_headers_obj_t *self, const char *data, int i) {
    const kiln_http_header_t *h = &self->req->headers[i];
    return new_str(data + h->value_off, h->value_len);
}

static mp_obj_t header_name(kiln_headers_obj_t *self, const char *data, size_t i) {
    const kiln_http_header_t *h = &self->req->headers[i];
    return new_str(data + h->name_off, h->name_len);
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

static mp_obj_t headers_items(mp_obj_t self_in) {
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t n = self->req->head.num_headers;
    mp_obj_t list = mp_obj_new_list(n, NULL);
    mp_obj_list_t *l = MP_OBJ_TO_PTR(list);
    const char *data = request_data(self->req);
    for (size_t i = 0; i < n; i++) {
        mp_obj_t pair[2] = { header_name(self, data, i), header_value(self, data, i) };
        // Making the strings may collect garbage, but never moves the buffer: data stays valid.
        l->items[i] = mp_obj_new_tuple(2, pair);
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(headers_items_obj, headers_items);

static mp_obj_t headers_getiter(mp_obj_t self_in, mp_obj_iter_buf_t *iter_buf) {
    (void)iter_buf;
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t n = self->req->head.num_headers;
    mp_obj_t list = mp_obj_new_list(n, NULL);
    mp_obj_list_t *l = MP_OBJ_TO_PTR(list);
    const char *data = request_data(self->req);
    for (size_t i = 0; i < n; i++) {
        l->items[i] = header_name(self, data, i);
    }
    return mp_getiter(list, NULL);
}

static mp_obj_t headers_unary_op(mp_unary_op_t op, mp_obj_t self_in) {
    kiln_headers_obj_t *self = MP_OBJ_TO_PTR(self_in);
    size_t n = self->req->head.num_headers;
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

// --- Parser: feed bytes, get Requests ---------------------------------------------------------
//
// The unconsumed input lives either in `src` from `src_pos` on (an immutable bytes object: the
// caller's own, or a finished buffer that still holds pipelined bytes), or in `acc` when a
// request spans several feeds or its chunked body must be decoded in place. A complete request
// keeps the object its head is in; the parser never writes to it again.

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
           ARG_custom_methods, ARG_lenient_lf };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_max_request_line, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_REQUEST_LINE} },
        { MP_QSTR_max_header_line, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEADER_LINE} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEAD} },
        { MP_QSTR_max_headers, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEADERS} },
        { MP_QSTR_max_body, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_BODY} },
        { MP_QSTR_custom_methods, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_lenient_lf, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
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
    mp_obj_t req = kiln_request_new(buf, base, &self->head, self->headers);
    kiln_request_set_body(req, body);
    kiln_http_request_reset(&self->head);
    memset(&self->chunked, 0, sizeof(self->chunked));
    self->phase = PH_HEAD;
    return req;
}

static mp_obj_t parser_feed(mp_obj_t self_in, mp_obj_t data_in) {
    kiln_parser_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->phase == PH_FAILED) {
        raise_status(self->head.s_status ? self->head.s_status : 400);
    }
    mp_buffer_info_t in;
    mp_get_buffer_raise(data_in, &in, MP_BUFFER_READ);
    if (in.len) {
        size_t src_len = 0;
        if (self->src != MP_OBJ_NULL) {
            mp_obj_str_get_data(self->src, &src_len);
        }
        if (self->acc.len == 0 && src_len == self->src_pos && mp_obj_is_type(data_in, &mp_type_bytes)) {
            // The common case: the caller's immutable bytes are the buffer, nothing is copied.
            self->src = data_in;
            self->src_pos = 0;
        } else {
            parser_take_src(self);
            vstr_add_strn(&self->acc, in.buf, in.len);
        }
    }
    const char *buf;
    size_t len;
    if (self->acc.len) {
        buf = self->acc.buf;
        len = self->acc.len;
    } else if (self->src != MP_OBJ_NULL) {
        buf = mp_obj_str_get_data(self->src, &len);
        buf += self->src_pos;
        len -= self->src_pos;
    } else {
        return mp_const_none;
    }

    if (self->phase == PH_HEAD) {
        int r = kiln_http_parse_request(&self->head, buf, len, self->headers, self->max_headers, &self->limits);
        if (r == KILN_HTTP_INCOMPLETE) {
            if (self->acc.len == 0) {
                // The caller's object may be reused: keep a copy of the partial head.
                parser_take_src(self);
            }
            return mp_const_none;
        }
        if (r < 0) {
            self->phase = PH_FAILED;
            raise_status(-r);
        }
        self->phase = PH_BODY;
        self->raw_pos = self->body_end = r;
    }

    const kiln_http_request_t *h = &self->head;
    size_t head_len = h->head_len;
    if (h->flags & KILN_HTTP_F_CHUNKED) {
        // Decode in acc, where bytes can be rewritten.
        if (self->acc.len == 0) {
            parser_take_src(self);
        }
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
            self->phase = PH_FAILED;
            self->head.s_status = -r;
            raise_status(-r);
        }
        // The r bytes after the body were moved right behind the decoded ones: drop the gap.
        size_t rest_off = self->raw_pos + n;
        self->acc.len = rest_off + r;
        mp_obj_t body = mp_obj_new_bytes((const byte *)self->acc.buf + head_len, self->body_end - head_len);
        return parser_complete(self, body, rest_off, rest_off);
    }
    size_t cl = (h->flags & KILN_HTTP_F_CONTENT_LENGTH) ? h->content_length : 0;
    if (len - head_len < cl) {
        if (self->acc.len == 0) {
            parser_take_src(self);
        }
        return mp_const_none;
    }
    mp_obj_t body = cl ? mp_obj_new_bytes((const byte *)buf + head_len, cl) : mp_const_empty_bytes;
    return parser_complete(self, body, head_len + cl, head_len + cl);
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

// --- module functions ---------------------------------------------------------------------

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
    return decode_str(data, n, args[ARG_plus].u_bool);
}
MP_DEFINE_CONST_FUN_OBJ_KW(kiln_url_decode_obj, 1, kiln_url_decode);

static mp_obj_t kiln_parse_qs(mp_obj_t s) {
    size_t n, pos = 0;
    const char *qs = mp_obj_str_get_data(s, &n);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    kiln_http_span_t name, value;
    while (kiln_http_query_next(qs, n, &pos, &name, &value)) {
        // qs stays valid: a str or bytes object never moves.
        mp_obj_t pair[2] = {
            decode_str(qs + name.off, name.len, 1),
            decode_str(qs + value.off, value.len, 1),
        };
        mp_obj_list_append(list, mp_obj_new_tuple(2, pair));
    }
    return list;
}
MP_DEFINE_CONST_FUN_OBJ_1(kiln_parse_qs_obj, kiln_parse_qs);
