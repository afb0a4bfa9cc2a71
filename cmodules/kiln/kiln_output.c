// Answering: calls the handler, takes its result (a response tuple or an awaitable), frames the
// body (known, a file or sync iterator streamed from here, or an async iterator fed by Python)
// and ends the response, with its access log line.
#include "py/runtime.h"
#include "py/objstr.h"
#include "py/objarray.h"
#include "kiln_server.h"
#include "kiln_request.h"
#include "kiln_conn.h"
#include "modkiln.h"

// Chunk header written before a chunk read from a file: four hex digits (leading zeros are
// valid) and CRLF. STREAM_MAX, the most a file read takes, is the largest size they can write.
#define CHUNK_HEAD (6)
#define STREAM_MAX (0xffff)
#if CHUNK_HEAD != 4 + 2 || STREAM_MAX > 0xffff
#error "a chunk read from a file must fit the four hex digits of CHUNK_HEAD"
#endif
// A file goes out in blocks of up to this many bytes (one read and one write each): the output
// buffer grows to it while the file streams, when the heap has the room (kiln_out_grow).
#ifndef KILN_FILE_BLOCK
#define KILN_FILE_BLOCK (32 * 1024)
#endif
#if KILN_FILE_BLOCK > STREAM_MAX
#error "KILN_FILE_BLOCK: a block is one read of at most STREAM_MAX bytes"
#endif

int kiln_conn_call(kiln_conn_obj_t *c) {
    c->phase = KILN_PH_HANDLER;
    c->timer = KILN_T_NONE;
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
    return kiln_conn_respond(c, res);
}

static void json_free(vstr_t *json) {
    if (json->buf != NULL) {
        vstr_clear(json);
    }
}

// Takes the handler's result: a response tuple, or an awaitable for Python to run.
int kiln_conn_respond(kiln_conn_obj_t *c, mp_obj_t res) {
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
        kiln_json_print(&print, body);
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
        kiln_close_source(body);
        kiln_out_simple(c, 500, false);
        return kiln_conn_done(c);
    }
    if (c->frame == KILN_FRAME_NONE) {
        json_free(&json);
        kiln_close_source(body);
        return kiln_conn_done(c);
    }
    if (known) {
        // 256 bytes or less are copied (the JSON buffer is then freed)
        kiln_conn_chunk(c, body, p, len);
        json_free(&json);
        if (c->direct_len) {
            c->phase = KILN_PH_SEND;
            return CONTINUE;
        }
        return kiln_conn_done(c);
    }
    c->pending = body;
    c->src = src;
    if (src == KILN_SRC_AITER) {
        c->phase = KILN_PH_ASTREAM;
        int f = kiln_out_flush(c);
        if (f != CONTINUE) {
            return f;
        }
        c->timer = KILN_T_NONE;
        return KILN_RUN_ANEXT;
    }
    c->phase = KILN_PH_STREAM;
    return CONTINUE;
}

// Appends one chunk of body data with its framing; large data is written from its own buffer.
void kiln_conn_chunk(kiln_conn_obj_t *c, mp_obj_t obj, const byte *p, size_t n) {
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
        c->direct = p;
        c->direct_len = n;
        c->direct_obj = obj;
    }
}

// Flushes a pending direct segment (and the CRLF that ends its chunk).
int kiln_conn_flush_direct(kiln_conn_obj_t *c) {
    if (c->direct_len == 0) {
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

#if KILN_SENDFILE
// One step of a file that does not fit the send buffer's room: the head written (held for the
// file: one segment), then as much of the file as the socket takes, straight from the file.
static int stream_by_sendfile(kiln_conn_obj_t *c) {
    // (no direct segment is pending: kiln_conn_stream flushed it)
    int err;
    mp_uint_t n = kiln_sendfile(c, c->pending, c->out_left, &err);
    if (n == MP_STREAM_ERROR) {
        if (mp_is_nonblocking_error(err) || err == MP_EINTR) {
            if (c->timer != KILN_T_SEND) {
                c->timer = KILN_T_SEND;
                c->tstart = mp_hal_ticks_ms();
            }
            return KILN_RUN_WRITE;
        }
        return KILN_RUN_CLOSE;
    }
    if (n == 0) {
        // the file is shorter than its Content-Length said: the connection ends with it
        return kiln_conn_stream_end(c);
    }
    c->out_left -= n;
    c->tstart = mp_hal_ticks_ms();
    return CONTINUE;
}
#endif

// Streams from a file or a sync iterator until it ends or the socket is full.
int kiln_conn_stream(kiln_conn_obj_t *c) {
    for (;;) {
        int f = kiln_conn_flush_direct(c);
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
            return kiln_conn_stream_end(c);
        }
        if (c->src == KILN_SRC_ITER) {
            mp_obj_t item = mp_iternext(c->pending);
            if (item == MP_OBJ_STOP_ITERATION) {
                return kiln_conn_stream_end(c);
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
            kiln_conn_chunk(c, item, (const byte *)p, n);
            continue;
        }
        #if KILN_SENDFILE
        if (c->src == KILN_SRC_STREAM && c->frame == KILN_FRAME_LENGTH
            && c->out_left > c->wcap - c->wlen && kiln_can_sendfile(c, c->pending)) {
            f = stream_by_sendfile(c);
            if (f != CONTINUE) {
                return f;
            }
            continue;
        }
        #endif
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
            return kiln_conn_stream_end(c);
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

// Ends a streamed body.
int kiln_conn_stream_end(kiln_conn_obj_t *c) {
    if (c->frame == KILN_FRAME_CHUNKED) {
        kiln_out_str(c, "0\r\n\r\n");
    } else if (c->frame == KILN_FRAME_LENGTH && c->out_left) {
        c->keep_alive = false;
    }
    return kiln_conn_done(c);
}

// The response is complete: release the request, move to the next one.
int kiln_conn_done(kiln_conn_obj_t *c) {
    kiln_server_obj_t *srv = c->server;
    kiln_conn_log_access(c);
    kiln_conn_end_streaming(c);
    kiln_conn_drop_request(c);
    c->served = true;
    if (!c->keep_alive) {
        c->phase = KILN_PH_CLOSING;
        if (!c->drain) {
            kiln_conn_start_drain(c, KILN_DRAIN_READY);
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
        c->timer = KILN_T_IDLE;
    } else {
        c->timer = KILN_T_HEAD;
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
