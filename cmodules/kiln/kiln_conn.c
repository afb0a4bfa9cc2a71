// _kiln.Conn: one client connection, driven by its asyncio task through run(), respond(),
// fail() and feed(). Each call does all the work possible without waiting (read, parse, call the
// handler, write, next pipelined request) and returns a KILN_RUN_* code.
#include <string.h>

#include "py/runtime.h"
#include "py/objstr.h"
#include "py/objarray.h"
#include "py/mperrno.h"
#include "modkiln.h"
#include "kiln_server.h"
#include "kiln_request.h"

#define CONTINUE KILN_CONTINUE

// Chunk header written before a streamed chunk: four hex digits (leading zeros are valid).
#define CHUNK_HEAD (6)
#define STREAM_MAX (0xffff)
// A file goes out in blocks of up to this many bytes (one read and one write each): the output
// buffer grows to it while the file streams, when the heap has the room (kiln_out_grow).
#ifndef KILN_FILE_BLOCK
#define KILN_FILE_BLOCK (32 * 1024)
#endif

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";
// The answer to a MemoryError: written from here, it needs no heap.
static const char oom_500[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
    "Connection: close\r\n\r\nInternal Server Error";
static const char timeout_408[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static int conn_fail(kiln_conn_obj_t *c, mp_obj_t exc);

void kiln_rbuf_resize(kiln_conn_obj_t *c, size_t cap) {
    mp_obj_array_t *a = MP_OBJ_TO_PTR(c->rbuf);
    a->items = m_renew(byte, a->items, a->len, cap);
    a->len = cap;
}

// A TLS stream raises OSError where a socket returns an error (a record that does not parse, a
// failed handshake): that counts as an error of the stream, never as one of the handler.
static mp_uint_t tls_io(kiln_conn_obj_t *c, void *buf, size_t n, int *err, bool write) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_uint_t r = write ? c->sp->write(c->sock, buf, n, err) : c->sp->read(c->sock, buf, n, err);
        nlr_pop();
        return r;
    }
    *err = MP_EIO;
    return MP_STREAM_ERROR;
}

mp_uint_t kiln_read(kiln_conn_obj_t *c, void *buf, size_t n, int *err) {
    if (c->server->wrap == mp_const_none) {
        return c->sp->read(c->sock, buf, n, err);
    }
    return tls_io(c, buf, n, err, false);
}

mp_uint_t kiln_write(kiln_conn_obj_t *c, const void *buf, size_t n, int *err) {
    if (c->server->wrap == mp_const_none) {
        return c->sp->write(c->sock, buf, n, err);
    }
    return tls_io(c, (void *)buf, n, err, true);
}

// The (host, port) tuple for an address returned by accept(): lwIP ports give a tuple already,
// the unix port a raw sockaddr.
mp_obj_t kiln_peer_from_addr(mp_obj_t addr) {
    mp_buffer_info_t bi;
    if (mp_obj_is_type(addr, &mp_type_tuple) || !mp_get_buffer(addr, &bi, MP_BUFFER_READ)) {
        return addr;
    }
    const byte *a = bi.buf;
    if (bi.len < 8 || (a[0] | (a[1] << 8)) != 2) {
        // Not an IPv4 sockaddr in the host's byte order (AF_INET is 2 on unix).
        return addr;
    }
    char host[16];
    size_t n = 0;
    for (int i = 4; i < 8; i++) {
        char d[3];
        int k = 0;
        unsigned v = a[i];
        do {
            d[k++] = '0' + v % 10;
            v /= 10;
        } while (v);
        while (k) {
            host[n++] = d[--k];
        }
        host[n++] = '.';
    }
    mp_obj_t items[2] = {
        mp_obj_new_str(host, n - 1),
        MP_OBJ_NEW_SMALL_INT((a[2] << 8) | a[3]),
    };
    return mp_obj_new_tuple(2, items);
}

mp_obj_t kiln_conn_new(kiln_server_obj_t *srv, mp_obj_t sock, mp_obj_t raw, mp_obj_t peer, size_t slot) {
    const mp_stream_p_t *sp = mp_get_stream(sock);
    if (sp == NULL || sp->read == NULL || sp->write == NULL) {
        mp_raise_TypeError(MP_ERROR_TEXT("stream socket required"));
    }
    mp_obj_t dest[3];
    mp_load_method(sock, MP_QSTR_setblocking, dest);
    dest[2] = mp_const_false;
    mp_call_method_n_kw(1, 0, dest);

    // The slot's Conn, reused (see conn.close()).
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(srv->slots[slot].obj);
    memset((byte *)c + sizeof(mp_obj_base_t), 0, sizeof(*c) - sizeof(mp_obj_base_t));
    c->server = srv;
    c->sock = sock;
    c->raw = raw;
    c->sp = sp;
    c->task = mp_const_none;
    c->req = mp_const_none;
    c->pending = mp_const_none;
    c->dobj = MP_OBJ_NULL;
    c->slot = slot;
    c->can_read = true;
    c->phase = KILN_PH_HEAD;
    c->tphase = KILN_T_IDLE;
    c->tstart = mp_hal_ticks_ms();
    c->peer = peer;
    c->rbuf = srv->slots[slot].rbuf;
    c->wbuf = srv->slots[slot].wbuf;
    c->wcap = srv->send_buffer;
    return MP_OBJ_FROM_PTR(c);
}

// Calls obj.close() if it has one (files and generators given as bodies); errors are ignored.
static void close_source(mp_obj_t obj) {
    if (obj == mp_const_none) {
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t dest[2];
        mp_load_method_maybe(obj, MP_QSTR_close, dest);
        if (dest[0] != MP_OBJ_NULL) {
            mp_call_method_n_kw(0, 0, dest);
        }
        nlr_pop();
    }
}

static void drop_request(kiln_conn_obj_t *c) {
    c->streaming = false;
    if (c->req != mp_const_none) {
        kiln_request_finish(c->req);
        c->req = mp_const_none;
    }
    mp_obj_t src = c->pending;
    c->pending = mp_const_none;
    c->src = KILN_SRC_NONE;
    if (c->phase == KILN_PH_STREAM || c->phase == KILN_PH_ASTREAM) {
        close_source(src);
    }
}

void kiln_conn_close(kiln_conn_obj_t *c) {
    if (c->closed) {
        c->phase = KILN_PH_CLOSED;
        return;
    }
    c->closed = true;
    drop_request(c);
    c->phase = KILN_PH_CLOSED;
    c->tphase = KILN_T_NONE;
    // out of the poll set before its descriptor is closed (and reused by the next socket)
    kiln_unpoll(c->server->poller, MP_OBJ_FROM_PTR(c), &c->polled);
    int err;
    c->sp->ioctl(c->sock, MP_STREAM_CLOSE, 0, &err);
    if (c->raw != c->sock) {
        // a TLS stream whose handshake failed has let go of its socket without closing it
        mp_get_stream(c->raw)->ioctl(c->raw, MP_STREAM_CLOSE, 0, &err);
    }
    c->raw = MP_OBJ_NULL;
    // Give the buffers back to the slot, at their usual sizes (shrinking stays in place).
    kiln_server_obj_t *srv = c->server;
    kiln_slot_t *slot = &srv->slots[c->slot];
    if (slot->conn == MP_OBJ_FROM_PTR(c)) {
        if (kiln_rbuf_cap(c) != srv->recv_buffer) {
            kiln_rbuf_resize(c, srv->recv_buffer);
        }
        kiln_out_resize(c, srv->send_buffer);
        slot->wbuf = c->wbuf;
    } else {
        srv->out_grown -= c->wcap - srv->send_buffer;
    }
    c->wbuf = NULL;
    c->wcap = c->wlen = c->wpos = 0;
    c->dlen = 0;
    c->dobj = MP_OBJ_NULL;
    c->rbuf = mp_const_none;
    kiln_server_release(srv, c);
}

// Called by the server's sweep when the connection is over its timeout: a stalled request gets
// 408, then the task is cancelled and the connection closed.
void kiln_conn_timeout(kiln_conn_obj_t *c) {
    if (c->tphase == KILN_T_HEAD || c->tphase == KILN_T_BODY) {
        if (c->wlen == c->wpos && c->dlen == 0) {
            int err;
            kiln_write(c, timeout_408, sizeof(timeout_408) - 1, &err);
        }
        kiln_log(c, 408, kiln_reason(408));
    } else if (c->tphase == KILN_T_SEND) {
        kiln_log(c, 0, "send timeout, closing connection");
    }
    mp_obj_t task = c->task;
    kiln_conn_close(c);
    if (task != mp_const_none) {
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_obj_t dest[2];
            mp_load_method(task, MP_QSTR_cancel, dest);
            mp_call_method_n_kw(0, 0, dest);
            nlr_pop();
        }
    }
}

static void start_drain(kiln_conn_obj_t *c, uint8_t how) {
    c->drain = how;
    c->drained = 0;
    c->tphase = KILN_T_DRAIN;
    c->tstart = mp_hal_ticks_ms();
}

static int conn_drain(kiln_conn_obj_t *c) {
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
    drop_request(c);
    // A body may still be on its way after a 413 or a refusal in the middle of it.
    bool linger = status == 413 || c->phase == KILN_PH_BODY;
    kiln_out_simple(c, status, true);
    c->phase = KILN_PH_CLOSING;
    start_drain(c, linger ? KILN_DRAIN_LINGER : KILN_DRAIN_READY);
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
        if (c->tphase == KILN_T_SEND) {
            c->tphase = c->phase == KILN_PH_BODY ? KILN_T_BODY
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
        drop_request(c);
        c->phase = KILN_PH_CLOSING;
        return CONTINUE;
    }
    if (c->rlen == c->rpos && c->phase == KILN_PH_HEAD) {
        c->tphase = KILN_T_HEAD;
        c->tstart = mp_hal_ticks_ms();
    }
    c->rlen += n;
    // a full read may have left more behind: read again, unless this turn has had its reads
    c->can_read = n == room && --c->reads_left > 0;
    return CONTINUE;
}

static int conn_call(kiln_conn_obj_t *c);

static int conn_body_done(kiln_conn_obj_t *c) {
    if (c->body_have) {
        const byte *b = kiln_rbuf_items(c) + c->rpos + c->head_len;
        kiln_request_set_body(c->req, mp_obj_new_bytes(b, c->body_have));
    }
    return conn_call(c);
}

// Leaves the rest of the body to req.stream (conn.body_read) and calls the handler. have: body
// bytes already in the buffer after the head; left: Content-Length bytes still to come.
static int conn_start_streaming(kiln_conn_obj_t *c, size_t have, size_t left) {
    c->streaming = true;
    c->body_done = false;
    c->bpos = 0;
    c->bdec = have;
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
    return conn_call(c);
}

static int conn_body(kiln_conn_obj_t *c) {
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

// The head is parsed again from its start, so only when a line has ended or the unfinished line
// has grown past a line limit: a head trickling in byte by byte costs a parse per line.
static bool head_line_ended(kiln_conn_obj_t *c, size_t avail) {
    const kiln_http_limits_t *lim = &c->server->limits;
    size_t line_limit = lim->max_request_line < lim->max_header_line ? lim->max_request_line : lim->max_header_line;
    return memchr(kiln_rbuf_items(c) + c->rpos + c->head_len, '\n', avail - c->head_len) != NULL
           || avail - c->head_line > line_limit;
}

static int conn_head(kiln_conn_obj_t *c) {
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
        c->tphase = KILN_T_BODY;
        c->tstart = mp_hal_ticks_ms();
        return conn_body(c);
    }
    return conn_call(c);
}

// After a streamed body: a body the handler did not read to its end leaves the connection
// unusable; the buffer holds nothing of it for the next request.
static void end_streaming(kiln_conn_obj_t *c) {
    if (c->streaming) {
        if (!c->body_done) {
            c->keep_alive = false;
            start_drain(c, KILN_DRAIN_LINGER);
        }
        c->streaming = false;
        c->rlen = c->rpos + c->head_len;
    }
}

// The access log's line for the response just written, when the server keeps one.
void kiln_conn_log_access(kiln_conn_obj_t *c) {
    if (c->server->access_log && c->req != mp_const_none) {
        mp_printf(&mp_plat_print, "Kiln: ");
        kiln_print_peer(c);
        mp_printf(&mp_plat_print, " ");
        mp_obj_print_helper(&mp_plat_print, mp_load_attr(c->req, MP_QSTR_method), PRINT_STR);
        mp_printf(&mp_plat_print, " ");
        mp_obj_print_helper(&mp_plat_print, mp_load_attr(c->req, MP_QSTR_target), PRINT_STR);
        mp_printf(&mp_plat_print, " %u\n", c->status);
    }
}

// The response is complete: release the request, move to the next one.
static int conn_done(kiln_conn_obj_t *c) {
    kiln_server_obj_t *srv = c->server;
    kiln_conn_log_access(c);
    end_streaming(c);
    drop_request(c);
    c->served = true;
    if (!c->keep_alive) {
        c->phase = KILN_PH_CLOSING;
        if (!c->drain) {
            start_drain(c, KILN_DRAIN_READY);
        }
        return CONTINUE;
    }
    c->rpos += c->head_len + c->body_have;
    c->head_len = 0;
    c->head_line = 0;
    c->body_have = 0;
    c->phase = KILN_PH_HEAD;
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
        // Keep a buffer grown once for a browser's head (no churn per request); give back
        // what a big head or body took.
        if (kiln_rbuf_cap(c) > 2 * (size_t)srv->recv_buffer) {
            kiln_rbuf_resize(c, srv->recv_buffer);
        }
        c->tphase = KILN_T_IDLE;
    } else {
        c->tphase = KILN_T_HEAD;
    }
    c->tstart = mp_hal_ticks_ms();
    if (c->wlen >= c->wcap / 2) {
        int f = kiln_out_flush(c);
        if (f != CONTINUE) {
            return f;
        }
    }
    return CONTINUE;
}

// Appends one chunk of body data with its framing; large data is written from its own buffer.
static void conn_chunk(kiln_conn_obj_t *c, mp_obj_t obj, const byte *p, size_t n) {
    if (c->frame == KILN_FRAME_LENGTH) {
        if (n > c->out_left) {
            n = c->out_left;
            c->keep_alive = false;
        }
        c->out_left -= n;
    }
    if (n == 0) {
        return;
    }
    if (c->frame == KILN_FRAME_CHUNKED) {
        kiln_out_uint(c, n, 16);
        kiln_out_add(c, "\r\n", 2);
    }
    if (n <= c->wcap - c->wlen || n <= 256) {
        kiln_out_add(c, p, n);
        if (c->frame == KILN_FRAME_CHUNKED) {
            kiln_out_add(c, "\r\n", 2);
        }
    } else {
        c->dptr = p;
        c->dlen = n;
        c->dobj = obj;
    }
}

// Ends a streamed body.
static int conn_stream_end(kiln_conn_obj_t *c) {
    if (c->frame == KILN_FRAME_CHUNKED) {
        kiln_out_str(c, "0\r\n\r\n");
    } else if (c->frame == KILN_FRAME_LENGTH && c->out_left) {
        c->keep_alive = false;
    }
    return conn_done(c);
}

// Flushes a pending direct segment (and the CRLF that ends its chunk).
static int conn_flush_direct(kiln_conn_obj_t *c) {
    if (c->dlen == 0) {
        return CONTINUE;
    }
    int f = kiln_out_flush(c);
    if (f != CONTINUE) {
        return f;
    }
    if (c->frame == KILN_FRAME_CHUNKED) {
        kiln_out_add(c, "\r\n", 2);
    }
    return CONTINUE;
}

// Streams from a file or a sync iterator until it ends or the socket is full.
static int conn_stream(kiln_conn_obj_t *c) {
    for (;;) {
        int f = conn_flush_direct(c);
        if (f != CONTINUE) {
            return f;
        }
        if (c->wlen >= c->wcap / 2) {
            f = kiln_out_flush(c);
            if (f != CONTINUE) {
                return f;
            }
        }
        if (c->frame == KILN_FRAME_LENGTH && c->out_left == 0) {
            return conn_stream_end(c);
        }
        if (c->src == KILN_SRC_ITER) {
            mp_obj_t item = mp_iternext(c->pending);
            if (item == MP_OBJ_STOP_ITERATION) {
                return conn_stream_end(c);
            }
            size_t n;
            const char *p;
            if (mp_obj_is_str_or_bytes(item)) {
                p = mp_obj_str_get_data(item, &n);
            } else {
                mp_buffer_info_t bi;
                mp_get_buffer_raise(item, &bi, MP_BUFFER_READ);
                p = bi.buf;
                n = bi.len;
            }
            conn_chunk(c, item, (const byte *)p, n);
            continue;
        }
        // Files: read straight into the output buffer, after room for the chunk header; the
        // buffer grows to a block, or to what the rest of the file needs when that is less.
        size_t head = c->frame == KILN_FRAME_CHUNKED ? CHUNK_HEAD : 0;
        kiln_out_grow(c, c->frame == KILN_FRAME_LENGTH && c->out_left < KILN_FILE_BLOCK
            ? c->wlen + c->out_left : KILN_FILE_BLOCK);
        kiln_out_reserve(c, head + 64 + 2);
        size_t room = c->wcap - c->wlen - head - 2;
        if (room > STREAM_MAX) {
            room = STREAM_MAX;
        }
        if (c->frame == KILN_FRAME_LENGTH && room > c->out_left) {
            room = c->out_left;
        }
        byte *dst = c->wbuf + c->wlen + head;
        mp_uint_t n;
        if (c->src == KILN_SRC_STREAM) {
            int err;
            n = mp_get_stream(c->pending)->read(c->pending, dst, room, &err);
            if (n == MP_STREAM_ERROR) {
                mp_raise_OSError(err);
            }
        } else {
            mp_obj_t dest[3];
            mp_load_method(c->pending, MP_QSTR_readinto, dest);
            dest[2] = mp_obj_new_memoryview('B' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW, room, dst);
            mp_obj_t r = mp_call_method_n_kw(1, 0, dest);
            mp_int_t got = r == mp_const_none ? 0 : mp_obj_get_int(r);
            if (got < 0 || (mp_uint_t)got > room) {
                mp_raise_ValueError(MP_ERROR_TEXT("readinto returned a bad count"));
            }
            n = got;
        }
        if (n == 0) {
            return conn_stream_end(c);
        }
        if (head) {
            static const char hex[] = "0123456789abcdef";
            byte *h = c->wbuf + c->wlen;
            h[0] = hex[(n >> 12) & 15];
            h[1] = hex[(n >> 8) & 15];
            h[2] = hex[(n >> 4) & 15];
            h[3] = hex[n & 15];
            h[4] = '\r';
            h[5] = '\n';
        }
        c->wlen += head + n;
        if (head) {
            c->wbuf[c->wlen++] = '\r';
            c->wbuf[c->wlen++] = '\n';
        }
        if (c->frame == KILN_FRAME_LENGTH) {
            c->out_left -= n;
        }
    }
}

static void json_free(vstr_t *json) {
    if (json->buf != NULL) {
        vstr_clear(json);
    }
}

// Takes the handler's result: a response tuple, or an awaitable for Python to run.
static int conn_respond(kiln_conn_obj_t *c, mp_obj_t res) {
    if (!mp_obj_is_type(res, &mp_type_tuple) && !mp_obj_is_type(res, &mp_type_list)) {
        mp_obj_t dest[2];
        mp_load_method_maybe(res, MP_QSTR_send, dest);
        if (dest[0] == MP_OBJ_NULL) {
            mp_raise_TypeError(MP_ERROR_TEXT("handler must return (status, headers, body)"));
        }
        c->pending = res;
        c->phase = KILN_PH_HANDLER;
        // Earlier pipelined responses go out now rather than after the awaitable.
        if (kiln_out_flush(c) == KILN_RUN_CLOSE) {
            return KILN_RUN_CLOSE;
        }
        return KILN_RUN_AWAIT;
    }
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(res, &n, &items);
    if (n != 3 || !mp_obj_is_small_int(items[0])) {
        mp_raise_TypeError(MP_ERROR_TEXT("handler must return (status, headers, body)"));
    }
    mp_int_t status = MP_OBJ_SMALL_INT_VALUE(items[0]);
    if (status == 101) {
        kiln_conn_upgrade(c, items[1], items[2]);
        return CONTINUE;
    }
    if (status < 200 || status > 599) {
        // other 1xx are interim answers the loop sends itself (100 Continue)
        mp_raise_ValueError(MP_ERROR_TEXT("bad status"));
    }
    mp_obj_t body = items[2];
    const byte *p = NULL;
    size_t len = 0;
    bool known = true;
    uint8_t src = KILN_SRC_NONE;
    mp_buffer_info_t bi;
    vstr_t json = { 0 };
    if (body == mp_const_none) {
        // empty body
    } else if (mp_obj_is_str_or_bytes(body)) {
        p = (const byte *)mp_obj_str_get_data(body, &len);
    } else if (mp_obj_is_type(body, &mp_type_dict) || mp_obj_is_type(body, &mp_type_list)) {
        // JSON, as json.dumps writes it, straight into a buffer given back once copied out: a
        // JSON view leaves no str behind
        vstr_init(&json, 64);
        // JSON printing reads its separators from the extended print (as json.dumps passes)
        mp_print_ext_t print = { { &json, (mp_print_strn_t)vstr_add_strn }, ", ", ": " };
        mp_obj_print_helper(&print.base, body, PRINT_JSON);
        if (json.len > 256) {
            // sent from its own object
            body = mp_obj_new_bytes_from_vstr(&json);
            json.buf = NULL;
            p = (const byte *)mp_obj_str_get_data(body, &len);
        } else {
            p = (const byte *)json.buf;
            len = json.len;
            body = mp_const_none;
        }
    } else if (mp_get_buffer(body, &bi, MP_BUFFER_READ)) {
        p = bi.buf;
        len = bi.len;
    } else {
        known = false;
        mp_obj_t dest[2];
        mp_load_method_maybe(body, MP_QSTR___aiter__, dest);
        if (dest[0] != MP_OBJ_NULL) {
            body = mp_call_method_n_kw(0, 0, dest);
            src = KILN_SRC_AITER;
        } else if (mp_load_method_maybe(body, MP_QSTR___anext__, dest), dest[0] != MP_OBJ_NULL) {
            src = KILN_SRC_AITER;
        } else if (mp_load_method_maybe(body, MP_QSTR_readinto, dest), dest[0] != MP_OBJ_NULL) {
            src = dest[0] == MP_OBJ_FROM_PTR(&mp_stream_readinto_obj) ? KILN_SRC_STREAM
                : KILN_SRC_READINTO;
        } else {
            body = mp_getiter(body, NULL);
            src = KILN_SRC_ITER;
        }
    }
    if (!kiln_out_head(c, status, items[1], known, len)) {
        json_free(&json);
        kiln_log(c, 500, "invalid response header (CR/LF, bad name or type)");
        close_source(body);
        kiln_out_simple(c, 500, false);
        return conn_done(c);
    }
    if (c->frame == KILN_FRAME_NONE) {
        json_free(&json);
        close_source(body);
        return conn_done(c);
    }
    if (known) {
        // 256 bytes or less are copied (the JSON buffer is then freed)
        conn_chunk(c, body, p, len);
        json_free(&json);
        if (c->dlen) {
            c->phase = KILN_PH_SEND;
            return CONTINUE;
        }
        return conn_done(c);
    }
    c->pending = body;
    c->src = src;
    if (src == KILN_SRC_AITER) {
        c->phase = KILN_PH_ASTREAM;
        int f = kiln_out_flush(c);
        if (f != CONTINUE) {
            return f;
        }
        c->tphase = KILN_T_NONE;
        return KILN_RUN_ANEXT;
    }
    c->phase = KILN_PH_STREAM;
    return CONTINUE;
}

static int conn_call(kiln_conn_obj_t *c) {
    c->phase = KILN_PH_HANDLER;
    c->tphase = KILN_T_NONE;
    c->resp_start = c->wlen;
    uint32_t t0 = mp_hal_ticks_ms();
    mp_obj_t res = mp_call_function_1(c->server->handler, c->req);
    uint32_t dt = mp_hal_ticks_ms() - t0;
    if (dt >= KILN_BLOCKED_LOG_MS) {
        // "Kiln: GET /x blocked the loop for 16.0 s": every other client waited that long
        mp_printf(&mp_plat_print, "Kiln: ");
        mp_obj_print_helper(&mp_plat_print, mp_load_attr(c->req, MP_QSTR_method), PRINT_STR);
        mp_printf(&mp_plat_print, " ");
        mp_obj_print_helper(&mp_plat_print, mp_load_attr(c->req, MP_QSTR_target), PRINT_STR);
        mp_printf(&mp_plat_print, " blocked the loop for %u.%u s\n", (unsigned)(dt / 1000),
            (unsigned)(dt % 1000 / 100));
    }
    if (c->closed) {
        // the handler closed the server (and so this connection)
        return KILN_RUN_CLOSE;
    }
    return conn_respond(c, res);
}

// The state machine: runs phases until one must wait.
static int conn_step(kiln_conn_obj_t *c) {
    for (;;) {
        int r;
        switch (c->phase) {
            case KILN_PH_HEAD:
                r = conn_head(c);
                break;
            case KILN_PH_BODY:
                r = conn_body(c);
                break;
            case KILN_PH_SEND:
                r = conn_flush_direct(c);
                if (r == CONTINUE) {
                    r = conn_done(c);
                }
                break;
            case KILN_PH_STREAM:
                r = conn_stream(c);
                break;
            case KILN_PH_ASTREAM:
                r = conn_flush_direct(c);
                if (r == CONTINUE) {
                    r = kiln_out_flush(c);
                }
                if (r == CONTINUE) {
                    c->tphase = KILN_T_NONE;
                    r = KILN_RUN_ANEXT;
                }
                break;
            case KILN_PH_CLOSING:
                r = kiln_out_flush(c);
                if (r == CONTINUE) {
                    r = c->drain ? conn_drain(c) : KILN_RUN_CLOSE;
                }
                break;
            case KILN_PH_UPGRADED:
                // the 101 goes out whole before the WebSocket's own reads and writes begin
                r = kiln_out_flush(c);
                if (r == CONTINUE) {
                    c->tphase = KILN_T_NONE;
                    r = KILN_RUN_UPGRADE;
                }
                break;
            case KILN_PH_HANDLER:
                return KILN_RUN_AWAIT;
            default:
                return KILN_RUN_CLOSE;
        }
        if (r != CONTINUE) {
            if (r == KILN_RUN_CLOSE) {
                kiln_conn_close(c);
            }
            return r;
        }
    }
}

// Runs fn(c, arg) then the state machine, turning any exception into a 500 or a close; returns
// a KILN_RUN_* code.
static int conn_turn(kiln_conn_obj_t *c, int (*fn)(kiln_conn_obj_t *, mp_obj_t), mp_obj_t arg) {
    if (c->closed) {
        return KILN_RUN_CLOSE;
    }
    c->reads_left = KILN_READS_PER_TURN;
    int r;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        r = fn ? fn(c, arg) : CONTINUE;
        if (r == CONTINUE) {
            r = conn_step(c);
        } else if (r == KILN_RUN_CLOSE) {
            kiln_conn_close(c);
        }
        nlr_pop();
    } else {
        mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_Exception))) {
            // Ctrl-C (KeyboardInterrupt) or SystemExit met while C worked: it is for the program,
            // not this request, and the server's close() will end the connection
            nlr_jump(nlr.ret_val);
        }
        r = conn_fail(c, exc);
    }
    return r;
}

// After a turn, on a server attached to a poller: a connection that waits to read or write
// stays in (or goes back to) the poll set; one whose Python part begins leaves it, and when
// the poller served it, goes to its slot's worker (dispatch).
static int conn_settle(kiln_conn_obj_t *c, int r, bool polled) {
    kiln_server_obj_t *srv = c->server;
    if (srv->poller == MP_OBJ_NULL || r == KILN_RUN_CLOSE) {
        return r;
    }
    if (r == KILN_RUN_READ || r == KILN_RUN_WRITE) {
        c->task = mp_const_none;
        if (kiln_poll(srv->poller, MP_OBJ_FROM_PTR(c), &c->polled,
            r == KILN_RUN_READ ? MP_STREAM_POLL_RD : MP_STREAM_POLL_WR)) {
            return r;
        }
    } else {
        kiln_unpoll(srv->poller, MP_OBJ_FROM_PTR(c), &c->polled);
        if (!polled) {
            return r;
        }
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_call_function_2(srv->dispatch, MP_OBJ_FROM_PTR(c), MP_OBJ_NEW_SMALL_INT(r));
            nlr_pop();
            return r;
        }
        if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(((mp_obj_base_t *)nlr.ret_val)->type),
            MP_OBJ_FROM_PTR(&mp_type_Exception))) {
            // Ctrl-C: the server's close() ends the connection (a WebSocket learns why)
            nlr_jump(nlr.ret_val);
        }
    }
    mp_printf(&mp_plat_print, "Kiln: out of memory, closed a connection\n");
    kiln_conn_close(c);
    return KILN_RUN_CLOSE;
}

static mp_obj_t conn_enter(kiln_conn_obj_t *c, int (*fn)(kiln_conn_obj_t *, mp_obj_t), mp_obj_t arg) {
    return MP_OBJ_NEW_SMALL_INT(conn_settle(c, conn_turn(c, fn, arg), false));
}

// The poller found the connection ready (kiln_poll.c).
void kiln_conn_ready(kiln_conn_obj_t *c) {
    if (c->polled) {
        conn_settle(c, conn_turn(c, NULL, mp_const_none), true);
    }
}

// A connection just accepted: responses go out as written (Nagle's algorithm would hold a
// large body's second write until the client's delayed ACK of the head, about 40 ms), and it
// is served at once (its request has often arrived with it).
void kiln_conn_start(kiln_conn_obj_t *c) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t dest[5];
        mp_load_method(c->raw, MP_QSTR_setsockopt, dest);
        dest[2] = MP_OBJ_NEW_SMALL_INT(6);  // IPPROTO_TCP, on lwIP as on every BSD socket API
        dest[3] = MP_OBJ_NEW_SMALL_INT(1);  // TCP_NODELAY
        dest[4] = MP_OBJ_NEW_SMALL_INT(1);
        mp_call_method_n_kw(3, 0, dest);
        nlr_pop();
    }
    conn_settle(c, conn_turn(c, NULL, mp_const_none), true);
}

// After an exception: a 500 when no byte of the response was written, else close.
static int conn_fail(kiln_conn_obj_t *c, mp_obj_t exc) {
    bool in_handler = c->phase == KILN_PH_HANDLER;
    bool oom = mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)),
        MP_OBJ_FROM_PTR(&mp_type_MemoryError));
    mp_printf(&mp_plat_print, "Kiln: %s from ", in_handler ? "500 handler error" : "500 server error");
    kiln_print_peer(c);
    mp_printf(&mp_plat_print, ": ");
    mp_obj_print_helper(&mp_plat_print, exc, PRINT_EXC);
    mp_printf(&mp_plat_print, "\n");
    if (c->server->debug) {
        mp_obj_print_exception(&mp_plat_print, exc);
    }
    if (c->closed) {
        return KILN_RUN_CLOSE;
    }
    bool started = c->phase >= KILN_PH_SEND;
    end_streaming(c);
    drop_request(c);
    int r = KILN_RUN_CLOSE;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (!started) {
            if (in_handler) {
                c->wlen = c->resp_start;
            }
            c->keep_alive = c->keep_alive && in_handler && !oom;
            c->phase = KILN_PH_HANDLER;
            if (oom && c->dlen == 0) {
                c->dptr = (const byte *)oom_500;
                c->dlen = sizeof(oom_500) - 1;
            } else {
                kiln_out_simple(c, 500, !c->keep_alive);
            }
            if (c->keep_alive) {
                // the request's bytes were consumed before the handler ran
                c->phase = KILN_PH_SEND;
                r = conn_step(c);
            } else {
                c->phase = KILN_PH_CLOSING;
                r = conn_step(c);
            }
        }
        nlr_pop();
    }
    if (r == KILN_RUN_CLOSE) {
        kiln_conn_close(c);
    }
    return r;
}

static int conn_respond_fn(kiln_conn_obj_t *c, mp_obj_t res) {
    if (c->phase != KILN_PH_HANDLER) {
        return KILN_RUN_CLOSE;
    }
    return conn_respond(c, res);
}

static int conn_feed_fn(kiln_conn_obj_t *c, mp_obj_t chunk) {
    if (c->phase != KILN_PH_ASTREAM) {
        return KILN_RUN_CLOSE;
    }
    if (chunk == mp_const_none) {
        return conn_stream_end(c);
    }
    size_t n;
    const char *p;
    if (mp_obj_is_str_or_bytes(chunk)) {
        p = mp_obj_str_get_data(chunk, &n);
    } else {
        mp_buffer_info_t bi;
        mp_get_buffer_raise(chunk, &bi, MP_BUFFER_READ);
        p = bi.buf;
        n = bi.len;
    }
    conn_chunk(c, chunk, (const byte *)p, n);
    return CONTINUE;
}

// conn.run(): continue after a wait; returns a KILN_RUN_* code.
static mp_obj_t conn_run(mp_obj_t self_in) {
    return conn_enter(MP_OBJ_TO_PTR(self_in), NULL, mp_const_none);
}
static MP_DEFINE_CONST_FUN_OBJ_1(conn_run_obj, conn_run);

// conn.respond(result): the result of the awaited handler.
static mp_obj_t conn_respond_py(mp_obj_t self_in, mp_obj_t res) {
    return conn_enter(MP_OBJ_TO_PTR(self_in), conn_respond_fn, res);
}
static MP_DEFINE_CONST_FUN_OBJ_2(conn_respond_obj, conn_respond_py);

// conn.feed(chunk): the next chunk of an async iterator body, None at its end.
static mp_obj_t conn_feed_py(mp_obj_t self_in, mp_obj_t chunk) {
    return conn_enter(MP_OBJ_TO_PTR(self_in), conn_feed_fn, chunk);
}
static MP_DEFINE_CONST_FUN_OBJ_2(conn_feed_obj, conn_feed_py);

// conn.fail(exc): the awaited handler or async body raised exc.
static mp_obj_t conn_fail_py(mp_obj_t self_in, mp_obj_t exc) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(self_in);
    if (c->closed) {
        return MP_OBJ_NEW_SMALL_INT(KILN_RUN_CLOSE);
    }
    c->reads_left = KILN_READS_PER_TURN;
    return MP_OBJ_NEW_SMALL_INT(conn_settle(c, conn_fail(c, exc), false));
}
static MP_DEFINE_CONST_FUN_OBJ_2(conn_fail_obj, conn_fail_py);

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
    while (c->bpos == c->bdec) {
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
                if (c->tphase != KILN_T_BODY) {
                    c->tphase = KILN_T_BODY;
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
        c->tphase = KILN_T_NONE;
        c->bpos = 0;
        if (chunked) {
            size_t len = got;
            int r = kiln_http_decode_chunked(&c->chunked, (char *)kiln_rbuf_items(c) + start, &len,
                &c->server->limits);
            if (r < KILN_HTTP_INCOMPLETE) {
                c->keep_alive = false;
                mp_raise_ValueError(MP_ERROR_TEXT("bad chunked body"));
            }
            c->bdec = len;
            if (r >= 0) {
                c->body_done = true;
                // bytes of a next pipelined request were read with the body's end: drop them
                c->keep_alive = c->keep_alive && r == 0;
            }
        } else {
            c->bdec = got;
            c->body_left -= got;
            c->body_done = c->body_left == 0;
        }
    }
    size_t k = c->bdec - c->bpos;
    if (n >= 0 && (size_t)n < k) {
        k = n;
    }
    mp_obj_t out = mp_obj_new_bytes(kiln_rbuf_items(c) + start + c->bpos, k);
    c->bpos += k;
    return out;
}
static MP_DEFINE_CONST_FUN_OBJ_2(conn_body_read_obj, conn_body_read);

// conn.close(raw=None): closes the connection. The slot's Conn object serves the next client,
// so a task that may have been cancelled (timeout, eviction) names the socket it served
// (conn.raw): once the object serves another socket, the call does nothing.
static mp_obj_t conn_close_py(size_t n_args, const mp_obj_t *args) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(args[0]);
    if (n_args == 1 || c->raw == args[1]) {
        kiln_conn_close(c);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conn_close_obj, 1, 2, conn_close_py);

static void conn_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        if (attr == MP_QSTR_sock) {
            dest[0] = c->sock;
        } else if (attr == MP_QSTR_raw) {
            dest[0] = c->raw == MP_OBJ_NULL ? mp_const_none : c->raw;
        } else if (attr == MP_QSTR_pending) {
            dest[0] = c->pending;
        } else if (attr == MP_QSTR_task) {
            dest[0] = c->task;
        } else if (attr == MP_QSTR_peer) {
            dest[0] = c->peer;
        } else if (attr == MP_QSTR_slot) {
            dest[0] = MP_OBJ_NEW_SMALL_INT(c->slot);
        } else {
            dest[1] = MP_OBJ_SENTINEL;
        }
    } else if (dest[1] != MP_OBJ_NULL && attr == MP_QSTR_task) {
        c->task = dest[1];
        dest[0] = MP_OBJ_NULL;
    }
}

static const mp_rom_map_elem_t conn_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_run), MP_ROM_PTR(&conn_run_obj) },
    { MP_ROM_QSTR(MP_QSTR_respond), MP_ROM_PTR(&conn_respond_obj) },
    { MP_ROM_QSTR(MP_QSTR_feed), MP_ROM_PTR(&conn_feed_obj) },
    { MP_ROM_QSTR(MP_QSTR_fail), MP_ROM_PTR(&conn_fail_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&conn_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_body_read), MP_ROM_PTR(&conn_body_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_ws_recv), MP_ROM_PTR(&kiln_conn_ws_recv_obj) },
    { MP_ROM_QSTR(MP_QSTR_ws_send), MP_ROM_PTR(&kiln_conn_ws_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_ws_flush), MP_ROM_PTR(&kiln_conn_ws_flush_obj) },
};
static MP_DEFINE_CONST_DICT(conn_locals, conn_locals_table);

// The poller polls a Conn as its client's socket (a TLS stream's too: its records are read whole).
static mp_uint_t conn_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(self_in);
    if (c->raw == MP_OBJ_NULL || (request != MP_STREAM_POLL && request != MP_STREAM_GET_FILENO)) {
        *errcode = MP_EINVAL;
        return MP_STREAM_ERROR;
    }
    return mp_get_stream(c->raw)->ioctl(c->raw, request, arg, errcode);
}

static const mp_stream_p_t conn_stream_p = {
    .ioctl = conn_ioctl,
};

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_conn_type,
    MP_QSTR_Conn,
    MP_TYPE_FLAG_NONE,
    attr, conn_attr,
    protocol, &conn_stream_p,
    locals_dict, &conn_locals
    );
