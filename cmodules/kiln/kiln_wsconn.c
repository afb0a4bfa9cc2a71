// A connection upgraded to WebSocket: after the 101 the slot's Conn stays in the loop (same slot,
// buffers and connection limit), and kiln/websocket.py reads and writes frames through
// conn.ws_recv(), conn.ws_send() and conn.ws_flush(). Framing is kiln_ws.c's.
#include <string.h>

#include "py/runtime.h"
#include "py/objstr.h"
#include "py/mperrno.h"
#include "modkiln.h"
#include "kiln_server.h"
#include "kiln_request.h"

// The close code ws_recv returns when the peer is gone without a close frame (RFC 6455 7.1.5).
#define WS_GONE (1006)

void kiln_conn_upgrade(kiln_conn_obj_t *c, mp_obj_t headers, mp_obj_t body) {
    mp_obj_t dest[2];
    mp_load_method_maybe(body, MP_QSTR_serve, dest);
    if (dest[0] == MP_OBJ_NULL) {
        mp_raise_ValueError(MP_ERROR_TEXT("a 101's body must have serve(conn)"));
    }
    if (!(kiln_request_head(c->req)->flags & KILN_HTTP_F_UPGRADE) || c->streaming) {
        mp_raise_ValueError(MP_ERROR_TEXT("101 answers an Upgrade request"));
    }
    if (!kiln_out_head(c, 101, headers, true, 0)) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid response header"));
    }
    kiln_conn_log_access(c);
    // The view keeps its request; the buffer now holds frames.
    kiln_request_detach(c->req);
    c->req = mp_const_none;
    c->rpos += c->head_len + c->body_have;
    c->head_len = c->body_have = 0;
    c->pending = body;
    c->keep_alive = false;
    c->served = true;
    memset(&c->ws, 0, sizeof(c->ws));
    c->phase = KILN_PH_UPGRADED;
}

// Reads what the socket has into the buffer: 1 when bytes came, 0 when none yet, -1 when the
// peer is gone.
static int ws_fill(kiln_conn_obj_t *c, bool drain) {
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
    } else if (c->rpos > 0) {
        memmove(kiln_rbuf_items(c), kiln_rbuf_items(c) + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (!c->can_read && !drain) {
        // the socket was empty: the task waits until it is readable, then calls again
        c->can_read = true;
        return 0;
    }
    if (c->rlen == kiln_rbuf_cap(c)) {
        // a control frame (up to 139 bytes) is read whole: a receive buffer set smaller grows
        kiln_rbuf_resize(c, 2 * c->rlen);
    }
    size_t room = kiln_rbuf_cap(c) - c->rlen;
    int err;
    mp_uint_t n = kiln_read(c, kiln_rbuf_items(c) + c->rlen, room, &err);
    if (n == MP_STREAM_ERROR) {
        if (mp_is_nonblocking_error(err)) {
            // a reader now waits, then reads; after a drain (no one waits on the socket), the
            // next reader waits first
            c->can_read = !drain;
            return 0;
        }
        return -1;
    }
    if (n == 0) {
        return -1;
    }
    c->rlen += n;
    c->can_read = n == room;
    return 1;
}

// conn.ws_recv(max_message, drain=False): the next piece of the client's input as (opcode, data, end): data
// is a str when it is a whole text message, else bytes (pieces of one message share the
// message's opcode; control frames come whole); None when the socket has nothing yet (wait
// until it is readable); an int close code when the connection failed (1002, 1007, 1009) or
// the peer left (1006). drain=True: what can be had now, for a task that will not wait on the
// socket (a sender taking what came meanwhile): it reads even when the last read found the
// socket empty.
static mp_obj_t conn_ws_recv(size_t n_args, const mp_obj_t *args) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(args[0]);
    size_t max = mp_obj_get_int(args[1]);
    bool drain = n_args > 2 && mp_obj_is_true(args[2]);
    for (;;) {
        if (c->closed || c->phase != KILN_PH_UPGRADED) {
            return MP_OBJ_NEW_SMALL_INT(WS_GONE);
        }
        byte *buf = kiln_rbuf_items(c) + c->rpos;
        kiln_ws_piece_t piece;
        int r = kiln_ws_read(&c->ws, buf, c->rlen - c->rpos, max, &piece);
        if (r < 0) {
            return MP_OBJ_NEW_SMALL_INT(-r);
        }
        if (r == 0) {
            int f = ws_fill(c, drain);
            if (f <= 0) {
                return f == 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(WS_GONE);
            }
            continue;
        }
        c->rpos += r;
        if (piece.len == 0 && !piece.end) {
            continue;
        }
        const byte *p = buf + piece.off;
        mp_obj_t items[3] = {
            MP_OBJ_NEW_SMALL_INT(piece.opcode),
            // kiln_ws_read checked the text as UTF-8
            piece.opcode == KILN_WS_TEXT && piece.end && c->ws.msg_len == piece.len
                ? mp_obj_new_str_copy(&mp_type_str, p, piece.len) : mp_obj_new_bytes(p, piece.len),
            mp_obj_new_bool(piece.end),
        };
        return mp_obj_new_tuple(3, items);
    }
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kiln_conn_ws_recv_obj, 2, 3, conn_ws_recv);

// True when everything is written, False when the socket is full (wait until it is writable,
// then call ws_flush()), None when the peer is gone.
static mp_obj_t ws_flush_result(kiln_conn_obj_t *c) {
    int f = kiln_out_flush(c);
    if (f == KILN_CONTINUE) {
        c->timer = KILN_T_NONE;
        return mp_const_true;
    }
    return f == KILN_RUN_WRITE ? mp_const_false : mp_const_none;
}

// conn.ws_send(opcode, data, fin=True): frames data (anything with the buffer protocol) and
// writes it; returns as ws_flush() does. One frame at a time: the caller waits for the last one
// to be written before it sends the next.
static mp_obj_t conn_ws_send(size_t n_args, const mp_obj_t *args) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(args[0]);
    if (c->closed || c->phase != KILN_PH_UPGRADED) {
        return mp_const_none;
    }
    if (c->wlen > c->wpos || c->direct_len) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("previous frame not written"));
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[2], &bi, MP_BUFFER_READ);
    byte head[KILN_WS_MAX_HEADER];
    bool fin = n_args < 4 || mp_obj_is_true(args[3]);
    kiln_out_add(c, head, kiln_ws_header(head, mp_obj_get_int(args[1]), fin, bi.len));
    if (bi.len <= c->wcap - c->wlen || bi.len <= 256) {
        kiln_out_add(c, bi.buf, bi.len);
    } else {
        // written from the caller's object, which the Conn keeps alive until it is out
        c->direct = bi.buf;
        c->direct_len = bi.len;
        c->direct_obj = args[2];
    }
    return ws_flush_result(c);
}
MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(kiln_conn_ws_send_obj, 3, 4, conn_ws_send);

static mp_obj_t conn_ws_flush(mp_obj_t self_in) {
    kiln_conn_obj_t *c = MP_OBJ_TO_PTR(self_in);
    return ws_flush_result(c);
}
MP_DEFINE_CONST_FUN_OBJ_1(kiln_conn_ws_flush_obj, conn_ws_flush);
