// _kiln.Request, _kiln.Headers, _kiln.Parser and the C API the socket loop uses to hand a parsed
// request to Python.
#ifndef KILN_REQUEST_H
#define KILN_REQUEST_H

#include "py/obj.h"
#include "kiln_http.h"

extern const mp_obj_type_t kiln_type_request;
extern const mp_rom_obj_tuple_t kiln_methods_obj;
extern const mp_obj_type_t kiln_type_headers;
extern const mp_obj_type_t kiln_type_parser;

MP_DECLARE_CONST_FUN_OBJ_KW(kiln_url_decode_obj);
MP_DECLARE_CONST_FUN_OBJ_1(kiln_parse_qs_obj);

// Makes a Request from a complete head: `head` and `headers` as kiln_http_parse_request filled
// them from the bytes of buf_obj starting at offset `base` (the head offsets are relative to
// base). buf_obj is a bytes or bytearray object; the Request keeps it alive and reads it through
// the buffer protocol on each access, so the loop may grow or move it, but must not change bytes
// [base, base + head->head_len) until it calls kiln_request_finish. One allocation: the object,
// with the head fields and header views copied in. The body starts as b''.
mp_obj_t kiln_request_new(mp_obj_t buf_obj, size_t base, const kiln_http_request_t *head,
    const kiln_http_header_t *headers);

// Sets the body: a bytes object, or mp_const_none when the loop leaves it unread (streaming).
void kiln_request_set_body(mp_obj_t req, mp_obj_t body);

// Sets the client_addr slot (the loop's peer address object).
void kiln_request_set_client_addr(mp_obj_t req, mp_obj_t addr);

// The head fields the Request was made from (method, flags, content_length...).
const kiln_http_request_t *kiln_request_head(mp_obj_t req);

// Ends the request's access to the receive buffer: called once the response is sent; afterwards
// the lazy views (headers, target, query_string, path when not read before) raise
// RuntimeError("request finished"). Values already read stay valid (they are copies). Python
// code may call it too, as req.finish(), to let the buffer go while it keeps the request.
void kiln_request_finish(mp_obj_t req);

// Gives the Request its own copy of its head, so that it stays readable while the loop reuses
// the receive buffer (a connection upgraded to WebSocket keeps its request).
void kiln_request_detach(mp_obj_t req);

#endif // KILN_REQUEST_H
