// The connection's output buffer and the serialisation of response heads.
#include <string.h>

#include "py/runtime.h"
#include "py/objstr.h"
#include "py/mperrno.h"
#include "modkiln.h"
#include "kiln_server.h"
#include "kiln_request.h"

static const struct {
    uint16_t status;
    const char *reason;
} reasons[] = {
    { 100, "Continue" }, { 101, "Switching Protocols" },
    { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
    { 206, "Partial Content" },
    { 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
    { 304, "Not Modified" }, { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
    { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
    { 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
    { 411, "Length Required" }, { 412, "Precondition Failed" }, { 413, "Content Too Large" },
    { 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
    { 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
    { 422, "Unprocessable Content" }, { 426, "Upgrade Required" },
    { 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
    { 500, "Internal Server Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
    { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
    { 505, "HTTP Version Not Supported" },
};

const char *kiln_reason(unsigned status) {
    for (size_t i = 0; i < MP_ARRAY_SIZE(reasons); i++) {
        if (reasons[i].status == status) {
            return reasons[i].reason;
        }
    }
    return "";
}

// Gives the output buffer cap bytes; false when the heap has no room for them. What buffers
// hold beyond their send_buffer, all connections together, is counted in out_grown.
bool kiln_out_resize(kiln_conn_obj_t *c, size_t cap) {
    byte *p = m_renew_maybe(byte, c->wbuf, c->wcap, cap, true);
    if (p == NULL) {
        return false;
    }
    c->server->out_grown += cap - c->wcap;  // modulo: a shrink subtracts
    c->wbuf = p;
    c->wcap = cap;
    return true;
}

// Makes room for n more bytes: compacts, then grows (may raise MemoryError).
void kiln_out_reserve(kiln_conn_obj_t *c, size_t n) {
    if (c->wcap - c->wlen >= n) {
        return;
    }
    if (c->wpos > 0) {
        memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
        c->wlen -= c->wpos;
        c->resp_start = c->resp_start > c->wpos ? c->resp_start - c->wpos : 0;
        c->wpos = 0;
        if (c->wcap - c->wlen >= n) {
            return;
        }
    }
    size_t cap = c->wcap * 2;
    if (cap < c->wlen + n) {
        cap = c->wlen + n;
    }
    if (!kiln_out_resize(c, cap)) {
        m_malloc_fail(cap);
    }
}

// The heap's size in bytes (every area of a split heap).
static size_t heap_size(void) {
    size_t n = 0;
    #if MICROPY_GC_SPLIT_HEAP
    for (mp_state_mem_area_t *a = &MP_STATE_MEM(area); a != NULL; a = a->next) {
        n += a->gc_pool_end - a->gc_pool_start;
    }
    #else
    n = MP_STATE_MEM(area).gc_pool_end - MP_STATE_MEM(area).gc_pool_start;
    #endif
    return n;
}

// Grows the output buffer towards cap bytes for a file being streamed, within what the
// connections may hold together beyond their send buffers (an eighth of the heap, as request
// bodies held in memory); never raises: the buffer keeps its size when the heap has no room.
// kiln_out_flush gives the room back.
void kiln_out_grow(kiln_conn_obj_t *c, size_t cap) {
    kiln_server_obj_t *srv = c->server;
    size_t budget = heap_size() / 8;
    size_t most = srv->out_grown < budget ? c->wcap + budget - srv->out_grown : 0;
    if (cap > most) {
        cap = most;
    }
    if (cap > c->wcap) {
        kiln_out_resize(c, cap);
    }
}

void kiln_out_add(kiln_conn_obj_t *c, const void *data, size_t n) {
    kiln_out_reserve(c, n);
    memcpy(c->wbuf + c->wlen, data, n);
    c->wlen += n;
}

void kiln_out_str(kiln_conn_obj_t *c, const char *s) {
    kiln_out_add(c, s, strlen(s));
}

void kiln_out_uint(kiln_conn_obj_t *c, size_t n, unsigned base) {
    char digits[24];
    char *p = digits + sizeof(digits);
    do {
        *--p = "0123456789abcdef"[n % base];
        n /= base;
    } while (n);
    kiln_out_add(c, p, digits + sizeof(digits) - p);
}

// Writes the buffered output, then the direct segment (kiln_server.h).
int kiln_out_flush(kiln_conn_obj_t *c) {
    if (c->closed) {
        return KILN_RUN_CLOSE;
    }
    bool progress = false;
    int err;
    for (;;) {
        const byte *p;
        size_t n;
        if (c->wpos < c->wlen) {
            p = c->wbuf + c->wpos;
            n = c->wlen - c->wpos;
        } else if (c->direct_len) {
            p = c->direct;
            n = c->direct_len;
        } else {
            break;
        }
        mp_uint_t w = kiln_write(c, p, n, &err);
        if (w == MP_STREAM_ERROR) {
            if (mp_is_nonblocking_error(err)) {
                if (progress || c->timer != KILN_T_SEND) {
                    c->timer = KILN_T_SEND;
                    c->tstart = mp_hal_ticks_ms();
                }
                return KILN_RUN_WRITE;
            }
            return KILN_RUN_CLOSE;
        }
        progress = true;
        if (c->wpos < c->wlen) {
            c->wpos += w;
        } else {
            c->direct += w;
            c->direct_len -= w;
        }
    }
    c->wpos = c->wlen = 0;
    c->resp_start = 0;
    c->direct_obj = MP_OBJ_NULL;
    size_t usual = c->server->send_buffer;
    if (c->wcap > usual && c->phase == KILN_PH_HEAD) {
        // a buffer grown for a file (or a large head) is given back once written, between
        // requests (a WebSocket keeps its own; shrinking stays in place)
        kiln_out_resize(c, usual);
    }
    return KILN_CONTINUE;
}

// A complete small response that closes the connection, for errors the loop answers itself.
void kiln_out_simple(kiln_conn_obj_t *c, unsigned status, bool close) {
    const char *reason = kiln_reason(status);
    size_t n = strlen(reason);
    kiln_out_str(c, "HTTP/1.1 ");
    kiln_out_uint(c, status, 10);
    kiln_out_str(c, " ");
    kiln_out_add(c, reason, n);
    kiln_out_str(c, "\r\nContent-Type: text/plain\r\nContent-Length: ");
    kiln_out_uint(c, n, 10);
    kiln_out_str(c, close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
    kiln_out_add(c, reason, n);
    c->status = status;
    if (close) {
        c->keep_alive = false;
    }
}

static bool name_is(const char *s, size_t n, const char *lower) {
    size_t m = strlen(lower);
    return n == m && kiln_http_casecmp(s, lower, n);
}

static bool contains_token(const char *s, size_t n, const char *lower) {
    size_t m = strlen(lower);
    for (size_t i = 0; i + m <= n; i++) {
        if (kiln_http_casecmp(s + i, lower, m)) {
            return true;
        }
    }
    return false;
}

// _kiln.header_ok(name, value): the check out_header makes, for kiln.response.
static mp_obj_t kiln_header_ok(mp_obj_t name, mp_obj_t value) {
    size_t nlen, vlen;
    const char *n = mp_obj_str_get_data(name, &nlen);
    const char *v = mp_obj_str_get_data(value, &vlen);
    return mp_obj_new_bool(kiln_http_field_ok(n, nlen, 0) && kiln_http_field_ok(v, vlen, 1));
}
MP_DEFINE_CONST_FUN_OBJ_2(kiln_header_ok_obj, kiln_header_ok);

typedef struct _head_state_t {
    bool app_length;
    bool app_connection;
    bool app_te;
    size_t length;
} head_state_t;

// Validates and appends one header line; false when the name or value is not acceptable.
static bool out_header(kiln_conn_obj_t *c, mp_obj_t name, mp_obj_t value, head_state_t *st) {
    if (!(mp_obj_is_str_or_bytes(name))) {
        return false;
    }
    size_t nlen, vlen;
    const char *n = mp_obj_str_get_data(name, &nlen);
    if (!kiln_http_field_ok(n, nlen, 0)) {
        return false;
    }
    if (name_is(n, nlen, "transfer-encoding")) {
        // Accepted only as "chunked" (any case): Kiln drops the header and frames the body
        // itself (Content-Length when the length is known, else chunked, or close for HTTP/1.0).
        // Any other coding would leave the body unframed: refused.
        const char *v;
        if (!mp_obj_is_str_or_bytes(value)
            || (v = mp_obj_str_get_data(value, &vlen), !name_is(v, vlen, "chunked"))) {
            return false;
        }
        st->app_te = true;
        return true;
    }
    kiln_out_add(c, n, nlen);
    kiln_out_add(c, ": ", 2);
    if (mp_obj_is_small_int(value)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(value);
        if (v < 0) {
            return false;
        }
        kiln_out_uint(c, v, 10);
        if (name_is(n, nlen, "content-length")) {
            st->app_length = true;
            st->length = v;
        }
    } else {
        if (!mp_obj_is_str_or_bytes(value)) {
            return false;
        }
        const char *v = mp_obj_str_get_data(value, &vlen);
        if (!kiln_http_field_ok(v, vlen, 1)) {
            return false;
        }
        kiln_out_add(c, v, vlen);
        if (name_is(n, nlen, "content-length")) {
            st->app_length = true;
            st->length = 0;
            if (vlen == 0 || vlen > 9) {
                return false;
            }
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') {
                    return false;
                }
                st->length = st->length * 10 + (v[i] - '0');
            }
        } else if (name_is(n, nlen, "connection")) {
            st->app_connection = true;
            if (contains_token(v, vlen, "close")) {
                c->keep_alive = false;
            }
        }
    }
    kiln_out_add(c, "\r\n", 2);
    return true;
}

static bool out_headers(kiln_conn_obj_t *c, mp_obj_t headers, head_state_t *st) {
    if (headers == mp_const_none) {
        return true;
    }
    if (mp_obj_is_type(headers, &mp_type_dict)) {
        mp_map_t *map = mp_obj_dict_get_map(headers);
        for (size_t i = 0; i < map->alloc; i++) {
            if (mp_map_slot_is_filled(map, i)
                && !out_header(c, map->table[i].key, map->table[i].value, st)) {
                return false;
            }
        }
        return true;
    }
    if (!mp_obj_is_type(headers, &mp_type_list) && !mp_obj_is_type(headers, &mp_type_tuple)) {
        return false;
    }
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(headers, &n, &items);
    for (size_t i = 0; i < n; i++) {
        if (!mp_obj_is_type(items[i], &mp_type_tuple) && !mp_obj_is_type(items[i], &mp_type_list)) {
            return false;
        }
        size_t m;
        mp_obj_t *pair;
        mp_obj_get_array(items[i], &m, &pair);
        if (m != 2 || !out_header(c, pair[0], pair[1], st)) {
            return false;
        }
    }
    return true;
}

// Appends the status line and the headers of the current request's response, and chooses the
// body framing (c->frame, c->out_left) and whether the connection stays open (c->keep_alive).
// known/len: the body's length when the loop knows it. Returns false, with nothing appended,
// when a header is not acceptable (a name that is not a token, a control character other than
// HTAB in a value, a bad type, a Transfer-Encoding other than chunked or with Content-Length).
bool kiln_out_head(kiln_conn_obj_t *c, unsigned status, mp_obj_t headers, bool known, size_t len) {
    size_t start = c->wlen;
    bool keep_alive = c->keep_alive;
    if (c->streaming && !c->body_done) {
        // the rest of an unread request body is still on the way
        c->keep_alive = false;
    }
    head_state_t st = { false, false, false, 0 };
    kiln_out_str(c, "HTTP/1.1 ");
    kiln_out_uint(c, status, 10);
    kiln_out_add(c, " ", 1);
    kiln_out_str(c, kiln_reason(status));
    kiln_out_add(c, "\r\n", 2);
    if (!out_headers(c, headers, &st) || (st.app_te && st.app_length)) {
        c->wlen = start;
        c->keep_alive = keep_alive;
        return false;
    }
    bool bodiless_status = status < 200 || status == 204 || status == 304;
    bool http10 = kiln_request_head(c->req)->minor_version == 0;
    if (st.app_length) {
        c->frame = KILN_FRAME_LENGTH;
        c->out_left = st.length;
        if (known && len != st.length) {
            c->keep_alive = false;
        }
    } else if (known) {
        c->frame = KILN_FRAME_LENGTH;
        c->out_left = len;
        if (!bodiless_status) {
            kiln_out_str(c, "Content-Length: ");
            kiln_out_uint(c, len, 10);
            kiln_out_add(c, "\r\n", 2);
        }
    } else if (!http10) {
        c->frame = KILN_FRAME_CHUNKED;
        if (!bodiless_status) {
            kiln_out_str(c, "Transfer-Encoding: chunked\r\n");
        }
    } else if (c->head_only || bodiless_status) {
        c->frame = KILN_FRAME_NONE;
    } else {
        c->frame = KILN_FRAME_CLOSE;
        c->keep_alive = false;
    }
    if (c->head_only || bodiless_status) {
        c->frame = KILN_FRAME_NONE;
    }
    if (!st.app_connection) {
        if (!c->keep_alive) {
            kiln_out_str(c, "Connection: close\r\n");
        } else if (http10) {
            kiln_out_str(c, "Connection: keep-alive\r\n");
        }
    }
    kiln_out_add(c, "\r\n", 2);
    c->status = status;
    return true;
}
