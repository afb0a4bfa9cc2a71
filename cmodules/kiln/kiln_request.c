// _kiln.Request: the parsed head, read by Python.
//
// The C part copies the parsed head (offsets only) into itself and keeps the receive buffer
// object alive; strings are made from the buffer when Python asks for them. Handlers get an
// instance of a Python subclass (kiln_request.h), which stores what Python sets on it; a plain
// _kiln.Request stores only stream and client_addr.
#include <string.h>

#include "py/objstr.h"
#include "py/objtype.h"
#include "py/runtime.h"
#include "kiln_request.h"
#include "kiln_url.h"

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

// Leaves a class dict at most half full. MicroPython ends a failed lookup at the first empty slot,
// and a class dict grows only when full: then a miss reads every slot. A request's C fields are
// found after a miss in the dict of each Python class of its class (App: 2 dicts, of 4 and 17
// names, missed by each read of path, method and content_length: -880 instructions per request,
// bench/framework.py).
static void dict_make_room(mp_map_t *map) {
    if (map->is_fixed || map->used * 2 < map->alloc) {
        return;
    }
    mp_map_t old = *map;
    mp_map_init(map, old.used * 2 + 1);
    for (size_t i = 0; i < old.alloc; i++) {
        if (mp_map_slot_is_filled(&old, i)) {
            mp_map_lookup(map, old.table[i].key, MP_MAP_LOOKUP_ADD_IF_NOT_FOUND)->value = old.table[i].value;
        }
    }
    m_del(mp_map_elem_t, old.table, old.alloc);
}

// dict_make_room for each Python class from t up to _kiln.Request.
static void classes_make_room(const mp_obj_type_t *t) {
    while (t != &kiln_type_request && mp_obj_is_instance_type(t)) {
        dict_make_room(&MP_OBJ_TYPE_GET_SLOT(t, locals_dict)->map);
        const mp_obj_tuple_t *bases = MP_OBJ_TYPE_GET_SLOT_OR_NULL(t, parent);
        if (bases != NULL && bases->base.type == &mp_type_tuple) {
            for (size_t i = 0; i < bases->len; i++) {
                classes_make_room(MP_OBJ_TO_PTR(bases->items[i]));
            }
            return;
        }
        t = (const mp_obj_type_t *)bases;
    }
}

const mp_obj_type_t *kiln_request_class(mp_obj_t cls) {
    if (cls == mp_const_none) {
        return &kiln_type_request;
    }
    if (!mp_obj_is_type(cls, &mp_type_type) || !mp_obj_is_subclass_fast(cls, MP_OBJ_FROM_PTR(&kiln_type_request))) {
        mp_raise_TypeError(MP_ERROR_TEXT("request_class must be _kiln.Request or a subclass"));
    }
    classes_make_room(MP_OBJ_TO_PTR(cls));
    return MP_OBJ_TO_PTR(cls);
}

// The instance part of a request of a subclass: what mp_obj_new_instance makes for a class with
// one native base, its native part (subobj[0]) right behind it in the same block.
typedef struct _kiln_request_instance_t {
    mp_obj_base_t base;
    mp_map_t members;
    mp_obj_t subobj[1];
} kiln_request_instance_t;
_Static_assert(offsetof(kiln_request_instance_t, members) == offsetof(mp_obj_instance_t, members)
    && offsetof(kiln_request_instance_t, subobj) == offsetof(mp_obj_instance_t, subobj)
    && sizeof(kiln_request_instance_t) == offsetof(mp_obj_instance_t, subobj) + sizeof(mp_obj_t),
    "kiln_request_instance_t is an mp_obj_instance_t with one native base (py/objtype.h)");

// A request of class cls: the instance (when cls is a subclass) and the native part in one block.
static kiln_request_obj_t *request_alloc(const mp_obj_type_t *cls, size_t num_headers) {
    size_t size = offsetof(kiln_request_obj_t, headers) + num_headers * sizeof(kiln_http_header_t);
    if (cls == &kiln_type_request) {
        kiln_request_obj_t *self = mp_obj_malloc_helper(size, cls);
        self->owner = MP_OBJ_FROM_PTR(self);
        return self;
    }
    // objtype.c's instance_count_native_bases does not run per request (kiln_request_class
    // checked the class), and neither does __init__.
    kiln_request_instance_t *o = mp_obj_malloc_helper(sizeof(kiln_request_instance_t) + size, cls);
    kiln_request_obj_t *self = (kiln_request_obj_t *)(o + 1);
    mp_map_init(&o->members, 0);
    o->subobj[0] = MP_OBJ_FROM_PTR(self);
    self->base.type = &kiln_type_request;
    self->owner = MP_OBJ_FROM_PTR(o);
    return self;
}

mp_obj_t kiln_request_new(const mp_obj_type_t *cls, mp_obj_t buf_obj, size_t base,
    const kiln_http_request_t *head, const kiln_http_header_t *headers) {
    // The Headers view is made first, and with every request: MicroPython's allocator resumes
    // its search for free blocks after the last single-block allocation, so a server whose
    // only allocation per request were the (multi-block) Request would search the heap's
    // long-lived objects every time (12k instructions per request on a fresh unix heap).
    mp_obj_t view = kiln_headers_new(MP_OBJ_NULL);
    kiln_request_obj_t *self = request_alloc(cls, head->num_headers);
    kiln_headers_set_owner(view, self->owner);
    self->buf = buf_obj;
    self->path = MP_OBJ_NULL;
    self->headers_obj = view;
    self->body = mp_const_empty_bytes;
    self->stream = mp_const_none;
    self->client_addr = mp_const_none;
    self->offset = base;
    self->head = *head;
    memcpy(self->headers, headers, head->num_headers * sizeof(kiln_http_header_t));
    return self->owner;
}

kiln_request_obj_t *kiln_request_native(mp_obj_t req) {
    if (!mp_obj_is_exact_type(req, &kiln_type_request)) {
        req = ((mp_obj_instance_t *)MP_OBJ_TO_PTR(req))->subobj[0];
    }
    return MP_OBJ_TO_PTR(req);
}

void kiln_request_set_body(mp_obj_t req, mp_obj_t body) {
    kiln_request_native(req)->body = body;
}

void kiln_request_set_client_addr(mp_obj_t req, mp_obj_t addr) {
    kiln_request_native(req)->client_addr = addr;
}

void kiln_request_set_stream(mp_obj_t req, mp_obj_t stream) {
    kiln_request_native(req)->stream = stream;
}

const kiln_http_request_t *kiln_request_head(mp_obj_t req) {
    return &kiln_request_native(req)->head;
}

const char *kiln_request_data(kiln_request_obj_t *self) {
    if (self->buf == MP_OBJ_NULL) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("request finished"));
    }
    mp_buffer_info_t info;
    mp_get_buffer_raise(self->buf, &info, MP_BUFFER_READ);
    return (const char *)info.buf + self->offset;
}

void kiln_request_detach(mp_obj_t req) {
    kiln_request_obj_t *self = kiln_request_native(req);
    if (self->buf != MP_OBJ_NULL) {
        self->buf = mp_obj_new_bytes((const byte *)kiln_request_data(self), self->head.head_len);
        self->offset = 0;
    }
}

void kiln_request_finish(mp_obj_t req) {
    kiln_request_native(req)->buf = MP_OBJ_NULL;
}

static mp_obj_t request_str(kiln_request_obj_t *self, size_t off, size_t len) {
    return kiln_new_str(kiln_request_data(self) + off, len);
}

static mp_obj_t request_path(kiln_request_obj_t *self) {
    if (self->path == MP_OBJ_NULL) {
        const kiln_http_request_t *h = &self->head;
        if (h->path_len == 0) {
            self->path = MP_OBJ_NEW_QSTR(MP_QSTR__slash_);
        } else {
            self->path = kiln_decode_str(kiln_request_data(self) + h->path_off, h->path_len, 0);
        }
    }
    return self->path;
}

static mp_obj_t request_method(kiln_request_obj_t *self) {
    const kiln_http_request_t *h = &self->head;
    if (h->method != KILN_HTTP_OTHER) {
        return (mp_obj_t)kiln_methods_obj.items[h->method - KILN_HTTP_GET];
    }
    return request_str(self, h->method_off, h->method_len);
}

static mp_obj_t request_headers(kiln_request_obj_t *self) {
    if (self->headers_obj == MP_OBJ_NULL) {
        self->headers_obj = kiln_headers_new(self->owner);
    }
    return self->headers_obj;
}

// _kiln.Request(req): a copy of req's C part (its fields as they are now), which a Python
// subclass's instance then wraps: `AppRequest(req)` gives another app's request the app's class;
// what Python stored on req stays with req. Requests themselves are made by the loop and the
// Parser.
static mp_obj_t request_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    (void)type;
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    if (mp_obj_cast_to_native_base(args[0], MP_OBJ_FROM_PTR(&kiln_type_request)) == MP_OBJ_NULL) {
        mp_raise_TypeError(MP_ERROR_TEXT("requests are made by the parser"));
    }
    const kiln_request_obj_t *from = kiln_request_native(args[0]);
    size_t n = from->head.num_headers;
    kiln_request_obj_t *self = request_alloc(&kiln_type_request, n);
    memcpy(&self->buf, &from->buf, offsetof(kiln_request_obj_t, headers[n]) - offsetof(kiln_request_obj_t, buf));
    self->owner = MP_OBJ_FROM_PTR(self);
    self->headers_obj = MP_OBJ_NULL;
    return MP_OBJ_FROM_PTR(self);
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

// The fields: dest[0] is left MP_OBJ_NULL for any other name (AttributeError, or for a
// subclass's instance: its __getattr__).
static void request_load(kiln_request_obj_t *self, qstr attr, mp_obj_t *dest) {
    const kiln_http_request_t *h = &self->head;
    switch (attr) {
        case MP_QSTR_method:
            dest[0] = request_method(self);
            break;
        case MP_QSTR_path:
            dest[0] = request_path(self);
            break;
        case MP_QSTR_target:
            dest[0] = request_str(self, h->target_off, h->target_len);
            break;
        case MP_QSTR_query_string:
            dest[0] = request_str(self, h->query_off, h->query_len);
            break;
        case MP_QSTR_http_version:
            dest[0] = MP_OBJ_FROM_PTR(h->minor_version ? &kiln_version_11_obj : &kiln_version_10_obj);
            break;
        case MP_QSTR_headers:
            dest[0] = request_headers(self);
            break;
        case MP_QSTR_content_length:
            dest[0] = (h->flags & KILN_HTTP_F_CONTENT_LENGTH)
                ? mp_obj_new_int_from_uint(h->content_length) : mp_const_none;
            break;
        case MP_QSTR_chunked:
            dest[0] = mp_obj_new_bool(h->flags & KILN_HTTP_F_CHUNKED);
            break;
        case MP_QSTR_keep_alive:
            dest[0] = mp_obj_new_bool(h->flags & KILN_HTTP_F_KEEP_ALIVE);
            break;
        case MP_QSTR_expect_continue:
            dest[0] = mp_obj_new_bool(h->flags & KILN_HTTP_F_EXPECT_CONTINUE);
            break;
        case MP_QSTR_upgrade:
            dest[0] = (h->flags & KILN_HTTP_F_UPGRADE)
                ? request_str(self, h->upgrade_off, h->upgrade_len) : mp_const_none;
            break;
        case MP_QSTR_body:
            dest[0] = self->body;
            break;
        case MP_QSTR_stream:
            dest[0] = self->stream;
            break;
        case MP_QSTR_client_addr:
            dest[0] = self->client_addr;
            break;
        case MP_QSTR_finish:
            dest[0] = MP_OBJ_FROM_PTR(&request_finish_obj);
            dest[1] = self->owner;
            break;
    }
}

// Only stream and client_addr are stored (on a subclass's instance, stores never reach here).
static void request_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kiln_request_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        request_load(self, attr, dest);
    } else if (dest[1] != MP_OBJ_NULL && attr == MP_QSTR_stream) {
        self->stream = dest[1];
        dest[0] = MP_OBJ_NULL;
    } else if (dest[1] != MP_OBJ_NULL && attr == MP_QSTR_client_addr) {
        self->client_addr = dest[1];
        dest[0] = MP_OBJ_NULL;
    }
}

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_type_request,
    MP_QSTR_Request,
    MP_TYPE_FLAG_NONE,
    make_new, request_make_new,
    print, request_print,
    attr, request_attr
    );
