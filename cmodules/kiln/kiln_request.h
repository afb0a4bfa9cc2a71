// _kiln.Request and the C API the socket loop and the Parser use to hand a parsed request to
// Python; the Headers view reads the Request's fields.
//
// A request handlers get is an instance of a Python subclass of _kiln.Request (an App's request
// class) whose native part is a kiln_request_obj_t, made here without calling __init__: Python
// attributes resolve by MicroPython's own rules (the instance, its classes, then the C fields),
// and isinstance holds. Instance and native part are one heap block (the instance first), so a
// request costs one allocation as a plain _kiln.Request does. The GC follows only pointers to the
// start of a block: whatever outlives a lookup holds the `owner` (the instance), never a pointer
// to the native part. Every function below that takes `req` accepts either that instance or a
// plain _kiln.Request.
#ifndef KILN_REQUEST_H
#define KILN_REQUEST_H

#include "py/obj.h"
#include "kiln_http.h"

typedef struct _kiln_request_obj_t {
    mp_obj_base_t base;
    mp_obj_t buf;           // the receive buffer (bytes/bytearray); MP_OBJ_NULL once finished
    mp_obj_t path;          // the decoded path, made on first read
    mp_obj_t headers_obj;   // the Headers view, made on first read
    mp_obj_t body;
    mp_obj_t stream;
    mp_obj_t client_addr;
    mp_obj_t owner;         // the instance this is the native part of, or this object itself
    uint32_t offset;        // where the head starts in buf (buffers stay far below 4 GB)
    kiln_http_request_t head;
    kiln_http_header_t headers[];
} kiln_request_obj_t;

extern const mp_obj_type_t kiln_type_request;
extern const mp_rom_obj_tuple_t kiln_methods_obj;
extern const mp_obj_type_t kiln_type_headers;
extern const mp_obj_type_t kiln_type_parser;

// The class a server or Parser makes its requests of (its `request_class` argument): None gives
// _kiln.Request itself; anything but _kiln.Request or a Python subclass of it raises TypeError.
// The dicts of the class's Python classes are left at most half full (see kiln_request.c).
const mp_obj_type_t *kiln_request_class(mp_obj_t cls);

// Makes a request of class cls (from kiln_request_class) from a complete head: `head` and
// `headers` as kiln_http_parse_request filled them from the bytes of buf_obj starting at offset
// `base` (the head offsets are relative to base). buf_obj is a bytes or bytearray object; the
// request keeps it alive and reads it through the buffer protocol on each access, so the loop
// may grow or move it, but must not change bytes [base, base + head->head_len) until it calls
// kiln_request_finish. One allocation. The body starts as b''.
mp_obj_t kiln_request_new(const mp_obj_type_t *cls, mp_obj_t buf_obj, size_t base,
    const kiln_http_request_t *head, const kiln_http_header_t *headers);

// The C part of a request (the object itself for a plain _kiln.Request).
kiln_request_obj_t *kiln_request_native(mp_obj_t req);

// Sets the body: a bytes object, or mp_const_none when the loop leaves it unread (streaming).
void kiln_request_set_body(mp_obj_t req, mp_obj_t body);

// Sets the client_addr field (the loop's peer address object).
void kiln_request_set_client_addr(mp_obj_t req, mp_obj_t addr);

// Sets the stream field (what reads a body the loop left unread).
void kiln_request_set_stream(mp_obj_t req, mp_obj_t stream);

// The head fields the request was made from (method, flags, content_length...).
const kiln_http_request_t *kiln_request_head(mp_obj_t req);

// Ends the request's access to the receive buffer: called once the response is sent; afterwards
// the lazy views (headers, target, query_string, path when not read before) raise
// RuntimeError("request finished"). Values already read stay valid (they are copies). Python
// code may call it too, as req.finish(), to let the buffer go while it keeps the request.
void kiln_request_finish(mp_obj_t req);

// Gives the request its own copy of its head, so that it stays readable while the loop reuses
// the receive buffer (a connection upgraded to WebSocket keeps its request).
void kiln_request_detach(mp_obj_t req);

// The head's bytes, or RuntimeError once the request is finished.
const char *kiln_request_data(kiln_request_obj_t *self);

// A new Headers view of the header lines of req (an owner, see above).
mp_obj_t kiln_headers_new(mp_obj_t req);
void kiln_headers_set_owner(mp_obj_t headers, mp_obj_t req);

#endif // KILN_REQUEST_H
