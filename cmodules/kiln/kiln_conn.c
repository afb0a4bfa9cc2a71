// A connection's life: made for an accepted socket, run in turns of its state machine until it
// must wait, failed into a 500 or a close, timed out by the server's sweep, and closed. Reading
// requests is kiln_input.c's job, answering them kiln_output.c's, and the Python type
// _kiln.Conn is kiln_conn_type.c's.
#include <string.h>

#include "py/runtime.h"
#include "modkiln.h"
#include "kiln_server.h"
#include "kiln_request.h"
#include "kiln_conn.h"

// The answer to a MemoryError: written from here, it needs no heap.
static const char oom_500[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
    "Connection: close\r\n\r\nInternal Server Error";
static const char timeout_408[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

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
    c->direct_obj = MP_OBJ_NULL;
    c->slot = slot;
    c->can_read = true;
    c->phase = KILN_PH_HEAD;
    c->timer = KILN_T_IDLE;
    c->tstart = mp_hal_ticks_ms();
    c->peer = peer;
    c->rbuf = srv->slots[slot].rbuf;
    c->wbuf = srv->slots[slot].wbuf;
    c->wcap = srv->send_buffer;
    return MP_OBJ_FROM_PTR(c);
}

// Calls obj.close() if it has one (files and generators given as bodies); errors are ignored.
void kiln_close_source(mp_obj_t obj) {
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

void kiln_conn_drop_request(kiln_conn_obj_t *c) {
    c->streaming = false;
    if (c->req != mp_const_none) {
        kiln_request_finish(c->req);
        c->req = mp_const_none;
    }
    mp_obj_t src = c->pending;
    c->pending = mp_const_none;
    c->src = KILN_SRC_NONE;
    if (c->phase == KILN_PH_STREAM || c->phase == KILN_PH_ASTREAM) {
        kiln_close_source(src);
    }
}

void kiln_conn_close(kiln_conn_obj_t *c) {
    if (c->closed) {
        c->phase = KILN_PH_CLOSED;
        return;
    }
    c->closed = true;
    kiln_conn_drop_request(c);
    c->phase = KILN_PH_CLOSED;
    c->timer = KILN_T_NONE;
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
    c->direct_len = 0;
    c->direct_obj = MP_OBJ_NULL;
    c->rbuf = mp_const_none;
    kiln_server_release(srv, c);
}

// Called by the server's sweep when the connection is over its timeout: a stalled request gets
// 408, then the task is cancelled and the connection closed.
void kiln_conn_timeout(kiln_conn_obj_t *c) {
    if (c->timer == KILN_T_HEAD || c->timer == KILN_T_BODY) {
        if (c->wlen == c->wpos && c->direct_len == 0) {
            int err;
            kiln_write(c, timeout_408, sizeof(timeout_408) - 1, &err);
        }
        kiln_log(c, 408, kiln_reason(408));
    } else if (c->timer == KILN_T_SEND) {
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

// The state machine: runs phases until one must wait.
static int conn_step(kiln_conn_obj_t *c) {
    for (;;) {
        int r;
        switch (c->phase) {
            case KILN_PH_HEAD:
                r = kiln_conn_head(c);
                break;
            case KILN_PH_BODY:
                r = kiln_conn_body(c);
                break;
            case KILN_PH_SEND:
                r = kiln_conn_flush_direct(c);
                if (r == CONTINUE) {
                    r = kiln_conn_done(c);
                }
                break;
            case KILN_PH_STREAM:
                r = kiln_conn_stream(c);
                break;
            case KILN_PH_ASTREAM:
                r = kiln_conn_flush_direct(c);
                if (r == CONTINUE) {
                    r = kiln_out_flush(c);
                }
                if (r == CONTINUE) {
                    c->timer = KILN_T_NONE;
                    r = KILN_RUN_ANEXT;
                }
                break;
            case KILN_PH_CLOSING:
                r = kiln_out_flush(c);
                if (r == CONTINUE) {
                    r = c->drain ? kiln_conn_drain(c) : KILN_RUN_CLOSE;
                }
                break;
            case KILN_PH_UPGRADED:
                // the 101 goes out whole before the WebSocket's own reads and writes begin
                r = kiln_out_flush(c);
                if (r == CONTINUE) {
                    c->timer = KILN_T_NONE;
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
int kiln_conn_turn(kiln_conn_obj_t *c, int (*fn)(kiln_conn_obj_t *, mp_obj_t), mp_obj_t arg) {
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
        r = kiln_conn_fail(c, exc);
    }
    return r;
}

// After a turn, on a server attached to a poller: a connection that waits to read or write
// stays in (or goes back to) the poll set; one whose Python part begins leaves it, and when
// the poller served it, goes to its slot's worker (dispatch).
int kiln_conn_settle(kiln_conn_obj_t *c, int r, bool polled) {
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

// The poller found the connection ready (kiln_poll.c).
void kiln_conn_ready(kiln_conn_obj_t *c) {
    if (c->polled) {
        kiln_conn_settle(c, kiln_conn_turn(c, NULL, mp_const_none), true);
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
    kiln_conn_settle(c, kiln_conn_turn(c, NULL, mp_const_none), true);
}

// After an exception: a 500 when no byte of the response was written, else close.
int kiln_conn_fail(kiln_conn_obj_t *c, mp_obj_t exc) {
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
    kiln_conn_end_streaming(c);
    kiln_conn_drop_request(c);
    int r = KILN_RUN_CLOSE;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (!started) {
            if (in_handler) {
                c->wlen = c->resp_start;
            }
            c->keep_alive = c->keep_alive && in_handler && !oom;
            c->phase = KILN_PH_HANDLER;
            if (oom && c->direct_len == 0) {
                c->direct = (const byte *)oom_500;
                c->direct_len = sizeof(oom_500) - 1;
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
