// Reading requests: the receive buffer, the head, a body read whole or left to req.stream
// (conn.body_read), and the input dropped before a close (drain) or after a refusal.
#include <string.h>

#include "py/runtime.h"
#include "modkiln.h"
#include "kiln_server.h"
#include "kiln_request.h"
#include "kiln_conn.h"

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

void kiln_rbuf_resize(kiln_conn_obj_t *c, size_t cap) {
    mp_obj_array_t *a = MP_OBJ_TO_PTR(c->rbuf);
    a->items = m_renew(byte, a->items, a->len, cap);
    a->len = cap;
}

void kiln_conn_start_drain(kiln_conn_obj_t *c, uint8_t how) {
    c->drain = how;
    c->drained = 0;
    c->timer = KILN_T_DRAIN;
    c->tstart = mp_hal_ticks_ms();
}

int kiln_conn_drain(kiln_conn_obj_t *c) {
    size_t limit = (size_t)c->server->limits.max_body * 4 + 65536;
    for (;;) {
        int err;
        mp_uint_t n = kiln_read(c, kiln_rbuf_items(c), kiln_rbuf_cap(c), &err);
        if (n == MP_STREAM_ERROR && mp_is_nonblocking_error(err)) {
            return c->drain == KILN_DRAIN_LINGER ? KILN_RUN_READ : KILN_RUN_CLOSE;
        }
        if (n == MP_STREAM_ERROR || n == 0) {
            return KILN_RUN_CLOSE;
        }
        c->drained += n;
        if (c->drained > limit) {
            return KILN_RUN_CLOSE;
        }
    }
}

// Answers a request the loop refuses itself (parser status, body too large) and closes.
static int conn_refuse(kiln_conn_obj_t *c, unsigned status) {
    kiln_log(c, status, kiln_reason(status));
    kiln_conn_drop_request(c);
    // A body may still be on its way after a 413 or a refusal in the middle of it.
    bool linger = status == 413 || c->phase == KILN_PH_BODY;
    kiln_out_simple(c, status, true);
    c->phase = KILN_PH_CLOSING;
    kiln_conn_start_drain(c, linger ? KILN_DRAIN_LINGER : KILN_DRAIN_READY);
    return CONTINUE;
}

// Reads more request bytes. Before waiting, flushes buffered output (pipelined responses are
// written together).
static int conn_read(kiln_conn_obj_t *c) {
    if (c->closed) {
        return KILN_RUN_CLOSE;
    }
    if (!c->can_read) {
        int f = kiln_out_flush(c);
        if (f != CONTINUE) {
            return f;
        }
        c->can_read = true;
        if (c->timer == KILN_T_SEND) {
            c->timer = c->phase == KILN_PH_BODY ? KILN_T_BODY
                : c->rlen > c->rpos ? KILN_T_HEAD : KILN_T_IDLE;
            c->tstart = mp_hal_ticks_ms();
        }
        return KILN_RUN_READ;
    }
    kiln_server_obj_t *srv = c->server;
    size_t cap = kiln_rbuf_cap(c);
    if (c->rlen == cap) {
        if (c->phase == KILN_PH_HEAD && c->rpos > 0) {
            memmove(kiln_rbuf_items(c), kiln_rbuf_items(c) + c->rpos, c->rlen - c->rpos);
            c->rlen -= c->rpos;
            c->rpos = 0;
        } else {
            // Head phase: up to the head limit (the parser refuses beyond it). Body phase:
            // raw chunked data, decoded in place as it arrives.
            size_t limit = c->phase == KILN_PH_HEAD ? srv->limits.max_head
                : c->rpos + c->head_len + srv->limits.max_body + srv->recv_buffer;
            if (cap >= limit) {
                return conn_refuse(c, c->phase == KILN_PH_HEAD ? 431 : 413);
            }
            cap *= 2;
            kiln_rbuf_resize(c, cap < limit ? cap : limit);
        }
        cap = kiln_rbuf_cap(c);
    }
    int err;
    size_t room = cap - c->rlen;
    mp_uint_t n = kiln_read(c, kiln_rbuf_items(c) + c->rlen, room, &err);
    if (n == MP_STREAM_ERROR) {
        if (mp_is_nonblocking_error(err)) {
            c->can_read = false;
            return CONTINUE;
        }
        return KILN_RUN_CLOSE;
    }
    if (n == 0) {
        // The peer closed its side: finish writing what is buffered, then close.
        kiln_conn_drop_request(c);
        c->phase = KILN_PH_CLOSING;
        return CONTINUE;
    }
    if (c->rlen == c->rpos && c->phase == KILN_PH_HEAD) {
        c->timer = KILN_T_HEAD;
        c->tstart = mp_hal_ticks_ms();
    }
    c->rlen += n;
    // a full read may have left more behind: read again, unless this turn has had its reads
    c->can_read = n == room && --c->reads_left > 0;
    return CONTINUE;
}

static int conn_body_done(kiln_conn_obj_t *c) {
    if (c->body_have) {
        const byte *b = kiln_rbuf_items(c) + c->rpos + c->head_len;
        kiln_request_set_body(c->req, mp_obj_new_bytes(b, c->body_have));
    }
    return kiln_conn_call(c);
}

// Leaves the rest of the body to req.stream (conn.body_read) and calls the handler. have: body
// bytes already in the buffer after the head; left: Content-Length bytes still to come.
static int conn_start_streaming(kiln_conn_obj_t *c, size_t have, size_t left) {
    c->streaming = true;
    c->body_done = false;
    c->bpos = 0;
    c->body_ready = have;
    c->body_left = left;
    c->body_have = 0;
    c->rlen = c->rpos + c->head_len + have;
    kiln_request_set_stream(c->req, mp_call_function_1(c->server->body_stream, MP_OBJ_FROM_PTR(c)));
    kiln_request_set_body(c->req, mp_const_none);
    if ((kiln_request_head(c->req)->flags & KILN_HTTP_F_EXPECT_CONTINUE) && !c->continue_sent) {
        c->continue_sent = true;
        kiln_out_add(c, continue_100, sizeof(continue_100) - 1);
        if (kiln_out_flush(c) == KILN_RUN_CLOSE) {
            return KILN_RUN_CLOSE;
        }
    }
    return kiln_conn_call(c);
}

int kiln_conn_body(kiln_conn_obj_t *c) {
    const kiln_http_request_t *head = kiln_request_head(c->req);
    size_t start = c->rpos + c->head_len;
    if (head->flags & KILN_HTTP_F_CHUNKED) {
        size_t len = c->rlen - (start + c->body_have);
        if (len > 0) {
            char *p = (char *)kiln_rbuf_items(c) + start + c->body_have;
            int r = kiln_http_decode_chunked(&c->chunked, p, &len, &c->server->limits);
            if (r < KILN_HTTP_INCOMPLETE) {
                return conn_refuse(c, -r);
            }
            c->body_have += len;
            c->rlen = start + c->body_have + (r > 0 ? r : 0);
            if (r >= 0) {
                return conn_body_done(c);
            }
            if (c->body_have > c->server->body_in_memory && c->server->body_stream != mp_const_none) {
                return conn_start_streaming(c, c->body_have, 0);
            }
        }
    } else {
        c->body_have = c->rlen - start;
        if (c->body_have >= head->content_length) {
            c->body_have = head->content_length;
            return conn_body_done(c);
        }
    }
    if ((head->flags & KILN_HTTP_F_EXPECT_CONTINUE) && !c->continue_sent) {
        c->continue_sent = true;
        kiln_out_add(c, continue_100, sizeof(continue_100) - 1);
    }
    return conn_read(c);
}

// The loop does not resume the parser (kiln_http.c can): resuming needs the parse state and the
// header array it fills kept from one read to the next, per connection slot (KILN_HTTP_MAX_HEADERS
// entries of 8 bytes and the state: about 300 B a slot, 1.2 KB of an ESP8266's 38 KB with four
// slots), where parsing again needs the array only on the C stack while it runs. Nearly every
// head arrives in one read; the one that trickles in is parsed again from its start only when a
// line has ended or the unfinished line has grown past a line limit, so it costs a parse per
// line (at most max_head bytes each), not one per byte.
static bool head_line_ended(kiln_conn_obj_t *c, size_t avail) {
    const kiln_http_limits_t *lim = &c->server->limits;
    size_t line_limit = lim->max_request_line < lim->max_header_line ? lim->max_request_line : lim->max_header_line;
    return memchr(kiln_rbuf_items(c) + c->rpos + c->head_len, '\n', avail - c->head_len) != NULL
           || avail - c->head_line > line_limit;
}

int kiln_conn_head(kiln_conn_obj_t *c) {
    kiln_server_obj_t *srv = c->server;
    size_t avail = c->rlen - c->rpos;
    if (avail == 0 || avail == c->head_len) {
        // Nothing new since the last incomplete parse (head_len holds that length then).
        return conn_read(c);
    }
    if (c->head_len && !head_line_ended(c, avail)) {
        c->head_len = avail;
        return conn_read(c);
    }
    kiln_http_request_t head;
    kiln_http_header_t headers[KILN_HTTP_MAX_HEADERS];
    memset(&head, 0, sizeof(head));
    int r = kiln_http_parse_request(&head, (const char *)kiln_rbuf_items(c) + c->rpos, avail,
        headers, KILN_HTTP_MAX_HEADERS, &srv->limits);
    if (r == KILN_HTTP_INCOMPLETE) {
        const byte *b = kiln_rbuf_items(c) + c->rpos;
        c->head_line = avail;
        while (c->head_line > 0 && b[c->head_line - 1] != '\n') {
            c->head_line--;
        }
        c->head_len = avail;
        return conn_read(c);
    }
    if (r < 0) {
        return conn_refuse(c, -r);
    }
    c->head_len = r;
    size_t body = 0;
    bool chunked = head.flags & KILN_HTTP_F_CHUNKED;
    if (head.flags & KILN_HTTP_F_CONTENT_LENGTH) {
        body = head.content_length;
    }
    bool stream = body > srv->body_in_memory && avail - r < body && srv->body_stream != mp_const_none;
    if (stream && kiln_rbuf_cap(c) < c->rpos + r + 256) {
        kiln_rbuf_resize(c, c->rpos + r + srv->recv_buffer);
    }
    if (!stream && (body || chunked) && c->rpos + r + body > kiln_rbuf_cap(c)) {
        // Make room for the body before the request starts referring to the buffer.
        if (c->rpos > 0) {
            memmove(kiln_rbuf_items(c), kiln_rbuf_items(c) + c->rpos, avail);
            c->rlen = avail;
            c->rpos = 0;
        }
        if (r + body > kiln_rbuf_cap(c)) {
            kiln_rbuf_resize(c, r + body);
        }
    }
    c->req = kiln_request_new(srv->request_class, c->rbuf, c->rpos, &head, headers);
    kiln_request_set_client_addr(c->req, c->peer);
    c->keep_alive = (head.flags & KILN_HTTP_F_KEEP_ALIVE) && !srv->closed;
    c->head_only = head.method == KILN_HTTP_HEAD;
    c->continue_sent = false;
    c->body_have = 0;
    if (stream) {
        return conn_start_streaming(c, avail - r, body - (avail - r));
    }
    if (body || chunked) {
        memset(&c->chunked, 0, sizeof(c->chunked));
        c->phase = KILN_PH_BODY;
        c->timer = KILN_T_BODY;
        c->tstart = mp_hal_ticks_ms();
        return kiln_conn_body(c);
    }
    return kiln_conn_call(c);
}

// After a streamed body: a body the handler did not read to its end leaves the connection
// unusable; the buffer holds nothing of it for the next request.
void kiln_conn_end_streaming(kiln_conn_obj_t *c) {
    if (c->streaming) {
        if (!c->body_done) {
            c->keep_alive = false;
            kiln_conn_start_drain(c, KILN_DRAIN_LINGER);
        }
        c->streaming = false;
        c->rlen = c->rpos + c->head_len;
    }
}

// conn.body_read(n): up to n bytes (n < 0: what is ready) of a streamed body; b'' at its end,
// None when the socket has nothing yet (wait until readable, then call again).
static mp_obj_t conn_body_read(mp_obj_t self_in, mp_obj_t n_in) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(self_in);
    mp_int_t n = mp_obj_get_int(n_in);
    if (!c->streaming || c->closed) {
        return mp_const_empty_bytes;
    }
    bool chunked = kiln_request_head(c->req)->flags & KILN_HTTP_F_CHUNKED;
    size_t start = c->rpos + c->head_len;
    while (c->bpos == c->body_ready) {
        if (c->body_done) {
            return mp_const_empty_bytes;
        }
        size_t room = kiln_rbuf_cap(c) - start;
        if (!chunked && room > c->body_left) {
            room = c->body_left;
        }
        int err;
        mp_uint_t got = kiln_read(c, kiln_rbuf_items(c) + start, room, &err);
        if (got == MP_STREAM_ERROR) {
            if (mp_is_nonblocking_error(err)) {
                if (c->timer != KILN_T_BODY) {
                    c->timer = KILN_T_BODY;
                    c->tstart = mp_hal_ticks_ms();
                }
                return mp_const_none;
            }
            c->keep_alive = false;
            mp_raise_OSError(err);
        }
        if (got == 0) {
            c->keep_alive = false;
            mp_raise_msg(&mp_type_EOFError, MP_ERROR_TEXT("connection closed during the body"));
        }
        c->timer = KILN_T_NONE;
        c->bpos = 0;
        if (chunked) {
            size_t len = got;
            int r = kiln_http_decode_chunked(&c->chunked, (char *)kiln_rbuf_items(c) + start, &len,
                &c->server->limits);
            if (r < KILN_HTTP_INCOMPLETE) {
                c->keep_alive = false;
                mp_raise_ValueError(MP_ERROR_TEXT("bad chunked body"));
            }
            c->body_ready = len;
            if (r >= 0) {
                c->body_done = true;
                // bytes of a next pipelined request were read with the body's end: drop them
                c->keep_alive = c->keep_alive && r == 0;
            }
        } else {
            c->body_ready = got;
            c->body_left -= got;
            c->body_done = c->body_left == 0;
        }
    }
    size_t k = c->body_ready - c->bpos;
    if (n >= 0 && (size_t)n < k) {
        k = n;
    }
    mp_obj_t out = mp_obj_new_bytes(kiln_rbuf_items(c) + start + c->bpos, k);
    c->bpos += k;
    return out;
}

MP_DEFINE_CONST_FUN_OBJ_2(kiln_conn_body_read_obj, conn_body_read);
