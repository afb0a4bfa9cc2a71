// _kiln.Server: a listening socket, its connection slots, admission control and timeouts.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/gc.h"
#include "kiln_server.h"
#include "kiln_request.h"

static const char busy_503[] =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
    "Content-Length: 19\r\nConnection: close\r\n\r\nService Unavailable";

// The host of a (host, port) peer.
static mp_obj_t peer_host(mp_obj_t peer) {
    if (mp_obj_is_type(peer, &mp_type_tuple)) {
        size_t n;
        mp_obj_t *items;
        mp_obj_tuple_get(peer, &n, &items);
        if (n > 0) {
            peer = items[0];
        }
    }
    return peer;
}

void kiln_print_peer(const kiln_conn_obj_t *c) {
    mp_obj_print_helper(&mp_plat_print, peer_host(c->peer), PRINT_STR);
}

// One console line: "Kiln: 400 Bad Request from 127.0.0.1".
void kiln_log(const kiln_conn_obj_t *c, unsigned status, const char *what) {
    if (status) {
        mp_printf(&mp_plat_print, "Kiln: %u %s from ", status, what);
    } else {
        mp_printf(&mp_plat_print, "Kiln: %s from ", what);
    }
    kiln_print_peer(c);
    mp_printf(&mp_plat_print, "\n");
}

static void listen_again(kiln_server_obj_t *srv);

void kiln_server_release(kiln_server_obj_t *srv, kiln_conn_obj_t *c) {
    if (c->slot < srv->max_conns && srv->slots[c->slot].conn == MP_OBJ_FROM_PTR(c)) {
        srv->slots[c->slot].conn = MP_OBJ_NULL;
        srv->n_conns--;
        srv->refusing = false;
        srv->capping = false;
        if (srv->paused) {
            // a client waiting in the backlog gets the slot
            listen_again(srv);
        }
    }
}

// Most slots are busy: heads get shorter deadlines and one address fewer slots.
static bool under_pressure(kiln_server_obj_t *srv) {
    return (uint32_t)srv->n_conns * 100 >= (uint32_t)srv->max_conns * KILN_PRESSURE_PERCENT;
}

static uint32_t timeout_of(kiln_server_obj_t *srv, kiln_conn_obj_t *c) {
    switch (c->timer) {
        case KILN_T_IDLE:
            // a new client that has said nothing yet is a head that has not started
            if (!c->served && srv->pressed) {
                return MIN(srv->idle_ms, MIN(srv->head_ms, KILN_PRESSURE_HEAD_MS));
            }
            return srv->idle_ms;
        case KILN_T_HEAD:
            return srv->pressed ? MIN(srv->head_ms, KILN_PRESSURE_HEAD_MS) : srv->head_ms;
        case KILN_T_BODY:
            return srv->body_ms;
        case KILN_T_SEND:
            return srv->send_ms;
        case KILN_T_DRAIN:
            return KILN_DRAIN_MS;
        default:
            return 0;
    }
}

static void reserve_slot(kiln_server_obj_t *srv, size_t i) {
    kiln_slot_t *slot = &srv->slots[i];
    slot->obj = MP_OBJ_FROM_PTR(mp_obj_malloc(kiln_conn_obj_t, &kiln_conn_type));
    slot->rbuf = mp_obj_new_bytearray_by_ref(srv->recv_buffer, m_new(byte, srv->recv_buffer));
    slot->wbuf = m_new(byte, srv->send_buffer);
}

// Reserves the slots, as many as fit in KILN_SLOTS_HEAP_PERCENT of the free heap but two at
// least (one for a client that has connected and not yet spoken), or as many as the heap holds
// (at least one, or MemoryError): the server keeps to them.
static void reserve_slots(kiln_server_obj_t *srv) {
    gc_info_t info;
    gc_info(&info);
    size_t per_slot = srv->recv_buffer + srv->send_buffer + sizeof(kiln_conn_obj_t);
    size_t fit = info.free / 100 * KILN_SLOTS_HEAP_PERCENT / per_slot;
    size_t n = MIN(srv->max_conns, MAX(fit, 2));
    for (size_t i = 0; i < n; i++) {
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            reserve_slot(srv, i);
            nlr_pop();
        } else {
            if (i == 0) {
                nlr_jump(nlr.ret_val);
            }
            n = i;
            break;
        }
    }
    if (n < srv->max_conns) {
        mp_printf(&mp_plat_print, "Kiln: heap for %u of %u connections\n", (unsigned)n,
            (unsigned)srv->max_conns);
        srv->max_conns = n;
    }
}

static mp_obj_t server_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    enum { ARG_sock, ARG_handler, ARG_max_connections, ARG_head_timeout, ARG_body_timeout,
           ARG_idle_timeout, ARG_send_timeout, ARG_max_body, ARG_max_head, ARG_recv_buffer,
           ARG_send_buffer, ARG_access_log, ARG_debug, ARG_body_in_memory, ARG_body_stream,
           ARG_lenient_lf, ARG_max_per_client, ARG_wrap, ARG_request_class };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_handler, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_max_connections, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 8} },
        { MP_QSTR_head_timeout, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 10000} },
        { MP_QSTR_body_timeout, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 30000} },
        { MP_QSTR_idle_timeout, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 15000} },
        { MP_QSTR_send_timeout, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 30000} },
        { MP_QSTR_max_body, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_BODY} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_HTTP_MAX_HEAD} },
        { MP_QSTR_recv_buffer, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_RECV_BUFFER} },
        { MP_QSTR_send_buffer, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_SEND_BUFFER} },
        { MP_QSTR_access_log, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_debug, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_body_in_memory, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = KILN_BODY_IN_MEMORY} },
        { MP_QSTR_body_stream, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_lenient_lf, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_max_per_client, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = -1} },
        { MP_QSTR_wrap, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_request_class, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, args, MP_ARRAY_SIZE(allowed), allowed, a);
    mp_int_t max_conns = a[ARG_max_connections].u_int;
    mp_int_t max_head = a[ARG_max_head].u_int;
    mp_int_t recv_buffer = a[ARG_recv_buffer].u_int;
    mp_int_t send_buffer = a[ARG_send_buffer].u_int;
    if (max_conns < 1 || max_conns > 0xfff || max_head < 64 || max_head > 0xffff
        || recv_buffer < 64 || recv_buffer > max_head || send_buffer < 128
        || send_buffer > 0xffff || a[ARG_max_body].u_int < 0 || a[ARG_body_in_memory].u_int < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad server limits"));
    }
    kiln_server_obj_t *srv = mp_obj_malloc(kiln_server_obj_t, type);
    srv->sock = a[ARG_sock].u_obj;
    srv->handler = a[ARG_handler].u_obj;
    srv->slots = m_new0(kiln_slot_t, max_conns);
    srv->max_conns = max_conns;
    srv->n_conns = 0;
    srv->out_grown = 0;
    srv->recv_buffer = recv_buffer;
    srv->send_buffer = send_buffer;
    srv->head_ms = a[ARG_head_timeout].u_int;
    srv->body_ms = a[ARG_body_timeout].u_int;
    srv->idle_ms = a[ARG_idle_timeout].u_int;
    srv->send_ms = a[ARG_send_timeout].u_int;
    srv->access_log = a[ARG_access_log].u_bool;
    srv->debug = a[ARG_debug].u_bool;
    srv->body_in_memory = a[ARG_body_in_memory].u_int;
    srv->body_stream = a[ARG_body_stream].u_obj;
    srv->wrap = a[ARG_wrap].u_obj;
    srv->request_class = kiln_request_class(a[ARG_request_class].u_obj);
    srv->closed = false;
    srv->refusing = false;
    srv->accept_failing = false;
    srv->waiting = false;
    srv->limits = kiln_http_default_limits;
    srv->limits.max_head = max_head;
    if (srv->limits.max_request_line > max_head) {
        srv->limits.max_request_line = max_head;
    }
    if (srv->limits.max_header_line > max_head) {
        srv->limits.max_header_line = max_head;
    }
    srv->limits.max_body = a[ARG_max_body].u_int;
    srv->limits.allow = a[ARG_lenient_lf].u_bool ? KILN_HTTP_ALLOW_BARE_LF : 0;
    reserve_slots(srv);
    // default: half the slots (those reserved) on a server with many, so that one address never
    // holds them all; none on a small board, whose one browser opens several connections at once
    mp_int_t per_client = a[ARG_max_per_client].u_int;
    if (per_client < 0) {
        per_client = srv->max_conns >= KILN_PER_CLIENT_MIN_SLOTS ? MAX(srv->max_conns / 2, 1) : 0;
    }
    srv->max_per_client = MIN(per_client, srv->max_conns);
    srv->capping = false;
    srv->pressed = false;
    srv->poller = MP_OBJ_NULL;
    srv->dispatch = mp_const_none;
    srv->polled = 0;
    srv->paused = false;
    return MP_OBJ_FROM_PTR(srv);
}

// Whether the client's socket has bytes the loop has not read yet.
static bool readable(kiln_conn_obj_t *c) {
    const mp_stream_p_t *sp = mp_get_stream(c->sock);
    int err;
    mp_uint_t r = sp->ioctl(c->sock, MP_STREAM_POLL, MP_STREAM_POLL_RD, &err);
    return r != MP_STREAM_ERROR && (r & MP_STREAM_POLL_RD);
}

// Closes the keep-alive connection that has been idle longest, to admit a new one: one that has
// been answered, then idle for KILN_EVICT_IDLE_MS with nothing unread. A client served a moment
// ago may be sending its next request, and closing under it loses that request (the client
// sees a reset or an empty answer); so may a client that has sent nothing yet (a handshake that
// overflowed the backlog has its request retransmitted later), which the head deadline under
// pressure (KILN_PRESSURE_HEAD_MS) closes if it never speaks.
static bool evict_idle(kiln_server_obj_t *srv) {
    kiln_conn_obj_t *oldest = NULL;
    uint32_t now = mp_hal_ticks_ms();
    uint32_t age = 0;
    for (size_t i = 0; i < srv->max_conns; i++) {
        if (srv->slots[i].conn == MP_OBJ_NULL) {
            continue;
        }
        kiln_conn_obj_t *c = MP_OBJ_TO_PTR(srv->slots[i].conn);
        uint32_t a = now - c->tstart;
        if (c->timer == KILN_T_IDLE && c->served && a >= KILN_EVICT_IDLE_MS
            && (oldest == NULL || a > age) && !readable(c)) {
            oldest = c;
            age = a;
        }
    }
    if (oldest == NULL) {
        return false;
    }
    oldest->timer = KILN_T_NONE;
    kiln_conn_timeout(oldest);
    return true;
}

// Under pressure, whether the client at peer holds max_per_client slots already that have not
// been answered yet (a slow client's; a browser's parallel connections are served at once).
static bool over_cap(kiln_server_obj_t *srv, mp_obj_t peer) {
    if (srv->max_per_client == 0 || !under_pressure(srv)) {
        return false;
    }
    mp_obj_t host = peer_host(peer);
    size_t held = 0;
    for (size_t i = 0; i < srv->max_conns; i++) {
        if (srv->slots[i].conn != MP_OBJ_NULL) {
            kiln_conn_obj_t *c = MP_OBJ_TO_PTR(srv->slots[i].conn);
            held += !c->served && mp_obj_equal(peer_host(c->peer), host);
        }
    }
    return held >= srv->max_per_client;
}

// Answers 503 with Retry-After and closes the socket; allocates nothing, so it works on a full
// heap too.
static void answer_busy(kiln_server_obj_t *srv, mp_obj_t sock) {
    const mp_stream_p_t *sp = mp_get_stream(sock);
    if (sp == NULL) {
        return;
    }
    int err;
    if (srv->wrap != mp_const_none) {
        // a TLS client would read a plain 503 as a broken handshake: it only sees the close
        sp->ioctl(sock, MP_STREAM_CLOSE, 0, &err);
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t dest[3];
        mp_load_method(sock, MP_QSTR_setblocking, dest);
        dest[2] = mp_const_false;
        mp_call_method_n_kw(1, 0, dest);
        nlr_pop();
    }
    // Take what the client sent already, so that closing does not reset the connection
    // before it reads the answer.
    byte scratch[128];
    for (int i = 0; i < 8; i++) {
        mp_uint_t n = sp->read(sock, scratch, sizeof(scratch), &err);
        if (n == MP_STREAM_ERROR || n < sizeof(scratch)) {
            break;
        }
    }
    sp->write(sock, busy_503, sizeof(busy_503) - 1, &err);
    sp->ioctl(sock, MP_STREAM_CLOSE, 0, &err);
}

// Whether a client waits in the listen backlog.
static bool client_waiting(kiln_server_obj_t *srv) {
    const mp_stream_p_t *sp = mp_get_stream(srv->sock);
    int err;
    mp_uint_t r = sp->ioctl(srv->sock, MP_STREAM_POLL, MP_STREAM_POLL_RD, &err);
    return r != MP_STREAM_ERROR && (r & MP_STREAM_POLL_RD);
}

// With every slot busy: whether to take the waiting client only to answer it 503 (it has waited
// KILN_BACKLOG_WAIT_MS), rather than leave it in the backlog. Accepting a client that has no
// slot to go to answers it before its request has arrived (closing then resets the connection)
// and, with clients that reconnect at once, turns into a storm of refusals that takes the
// loop's time from the clients it serves (a refused client that reconnects at once is back in
// the backlog): so at most 4 × max_conns 503s (what the default backlog holds), then a new wait.
static bool refuse_now(kiln_server_obj_t *srv) {
    uint32_t now = mp_hal_ticks_ms();
    if (!srv->waiting) {
        srv->waiting = true;
        srv->waiting_since = now;
        srv->refused = 0;
    }
    if (srv->refused >= 4 * srv->max_conns) {
        srv->waiting_since = now;
        srv->refused = 0;
    }
    return now - srv->waiting_since >= KILN_BACKLOG_WAIT_MS;
}

// server.accept(): the next client as a Conn; None when there is none waiting; 0 when clients
// wait in the listen backlog for a slot (call again in a millisecond or so, not when the
// listening socket is readable: it stays readable); False after an error (out of memory, out of
// file descriptors) after which the caller should pause.
static mp_obj_t server_accept(mp_obj_t self_in) {
    kiln_server_obj_t *srv = MP_OBJ_TO_PTR(self_in);
    // a few 503s per call, so that a round of them does not hold the loop
    int refusals_left = 4;
    for (;;) {
        if (srv->closed) {
            return mp_const_none;
        }
        bool refuse = false;
        // a slot that freed by itself ends the wait; one made by closing an idle connection
        // does not (those come a second apart, and the backlog would never move)
        bool freed = srv->n_conns < srv->max_conns;
        if (!freed) {
            if (!client_waiting(srv)) {
                srv->waiting = false;
                return mp_const_none;
            }
            if (!evict_idle(srv)) {
                refuse = refuse_now(srv) && refusals_left-- > 0;
                if (!refuse) {
                    return MP_OBJ_NEW_SMALL_INT(0);
                }
            }
        }
        mp_obj_t res;
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_obj_t dest[2];
            mp_load_method(srv->sock, MP_QSTR_accept, dest);
            res = mp_call_method_n_kw(0, 0, dest);
            nlr_pop();
        } else {
            mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
            if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)),
                MP_OBJ_FROM_PTR(&mp_type_OSError))) {
                mp_obj_t errno_obj = mp_load_attr(exc, MP_QSTR_errno);
                mp_int_t e = mp_obj_is_small_int(errno_obj) ? MP_OBJ_SMALL_INT_VALUE(errno_obj) : 0;
                if (e == MP_EAGAIN || e == MP_EWOULDBLOCK) {
                    srv->waiting = false;
                    return mp_const_none;
                }
                if (e == MP_ECONNABORTED) {
                    continue;
                }
            }
            if (!srv->accept_failing) {
                // once per episode: the caller retries every 100 ms
                srv->accept_failing = true;
                mp_printf(&mp_plat_print, "Kiln: accept failed: ");
                mp_obj_print_helper(&mp_plat_print, exc, PRINT_EXC);
                mp_printf(&mp_plat_print, "\n");
            }
            return mp_const_false;
        }
        srv->accept_failing = false;
        size_t n;
        mp_obj_t *items;
        mp_obj_get_array(res, &n, &items);
        mp_obj_t sock = items[0];
        if (refuse) {
            // it has waited: its request has arrived, and answer_busy reads it before closing
            srv->refused++;
            answer_busy(srv, sock);
            if (!srv->refusing) {
                srv->refusing = true;
                mp_printf(&mp_plat_print, "Kiln: 503 connection limit (%u) reached, refusing clients\n",
                    (unsigned)srv->max_conns);
            }
            continue;
        }
        size_t slot = 0;
        while (srv->slots[slot].conn != MP_OBJ_NULL) {
            slot++;
        }
        if (nlr_push(&nlr) == 0) {
            mp_obj_t peer = kiln_peer_from_addr(n > 1 ? items[1] : mp_const_none);
            if (over_cap(srv, peer)) {
                nlr_pop();
                answer_busy(srv, sock);
                if (!srv->capping) {
                    srv->capping = true;
                    mp_printf(&mp_plat_print, "Kiln: 503 per-client limit (%u) reached by ",
                        (unsigned)srv->max_per_client);
                    mp_obj_print_helper(&mp_plat_print, peer_host(peer), PRINT_STR);
                    mp_printf(&mp_plat_print, "\n");
                }
                continue;
            }
            mp_obj_t raw = sock;
            if (srv->wrap != mp_const_none) {
                // TLS: the handshake happens in the connection's first reads, never here
                sock = mp_call_function_1(srv->wrap, sock);
            }
            mp_obj_t c = kiln_conn_new(srv, sock, raw, peer, slot);
            nlr_pop();
            srv->slots[slot].conn = c;
            srv->n_conns++;
            if (freed) {
                srv->waiting = false;
            }
            return c;
        } else {
            answer_busy(srv, sock);
            if (!srv->accept_failing) {
                srv->accept_failing = true;
                mp_printf(&mp_plat_print, "Kiln: 503 for a new client: ");
                mp_obj_print_helper(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val), PRINT_EXC);
                mp_printf(&mp_plat_print, "\n");
            }
            return mp_const_false;
        }
    }
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_accept_obj, server_accept);

// The listening socket leaves the poll set for a while when accept failed (out of memory or
// file descriptors: the running requests get time to finish) and while every slot is busy
// (clients wait in the listen backlog, which stays readable): a slot that frees, or sweep()
// after KILN_ACCEPT_PAUSE_MS, puts it back.
#define KILN_ACCEPT_PAUSE_MS (100)

static void listen_again(kiln_server_obj_t *srv) {
    srv->paused = false;
    if (!srv->closed && srv->poller != MP_OBJ_NULL
        && !kiln_poll(srv->poller, MP_OBJ_FROM_PTR(srv), &srv->polled, MP_STREAM_POLL_RD)) {
        srv->paused = true;
        srv->paused_at = mp_hal_ticks_ms();
    }
}

// The poller found the listening socket ready: one client is accepted and served. The next one
// waiting is found by the next poll, in its turn (kiln_poll.c): a client that connects again
// and again is not served ahead of the app's tasks.
void kiln_server_ready(kiln_server_obj_t *srv) {
    mp_obj_t c = server_accept(MP_OBJ_FROM_PTR(srv));
    if (c == mp_const_false || c == MP_OBJ_NEW_SMALL_INT(0)) {
        kiln_unpoll(srv->poller, MP_OBJ_FROM_PTR(srv), &srv->polled);
        srv->paused = true;
        srv->paused_at = mp_hal_ticks_ms();
    } else if (c != mp_const_none) {
        kiln_conn_start(MP_OBJ_TO_PTR(c));
    }
}

// server.attach(poller, dispatch): its clients wait in poller (asyncio's select.poll, waited on
// by a Loop) from now on; dispatch(conn, code) is called when one's Python part begins.
static mp_obj_t server_attach(mp_obj_t self_in, mp_obj_t poller, mp_obj_t dispatch) {
    kiln_server_obj_t *srv = MP_OBJ_TO_PTR(self_in);
    srv->poller = poller;
    srv->dispatch = dispatch;
    if (!kiln_poll(poller, self_in, &srv->polled, MP_STREAM_POLL_RD)) {
        mp_raise_type(&mp_type_MemoryError);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(server_attach_obj, server_attach);

// server.sweep(): times out stalled connections (408 for a stalled request, close for an idle
// one); returns the milliseconds until the next check is due.
static mp_obj_t server_sweep(mp_obj_t self_in) {
    kiln_server_obj_t *srv = MP_OBJ_TO_PTR(self_in);
    uint32_t now = mp_hal_ticks_ms();
    uint32_t next = 1000;
    // Pressure lingers: the stalled heads that caused it are dropped together, not one at a
    // time as each drop brings the count below the mark.
    if (under_pressure(srv)) {
        srv->pressed = true;
        srv->pressed_at = now;
    } else if (srv->pressed && now - srv->pressed_at >= KILN_PRESSURE_HEAD_MS) {
        srv->pressed = false;
    }
    if (srv->paused) {
        if (now - srv->paused_at >= KILN_ACCEPT_PAUSE_MS) {
            srv->paused = false;
            listen_again(srv);
        }
        next = KILN_ACCEPT_PAUSE_MS;
    }
    for (size_t i = 0; i < srv->max_conns; i++) {
        if (srv->slots[i].conn == MP_OBJ_NULL) {
            continue;
        }
        kiln_conn_obj_t *c = MP_OBJ_TO_PTR(srv->slots[i].conn);
        uint32_t limit = timeout_of(srv, c);
        if (limit == 0) {
            continue;
        }
        uint32_t elapsed = now - c->tstart;
        if (elapsed >= limit && (c->timer == KILN_T_IDLE || c->timer == KILN_T_HEAD) && readable(c)) {
            // Bytes wait unread: the loop was held (a slow sync handler), not the client.
            next = 20;
        } else if (elapsed >= limit) {
            kiln_conn_timeout(c);
        } else if (limit - elapsed < next) {
            next = limit - elapsed;
        }
    }
    return MP_OBJ_NEW_SMALL_INT(next < 20 ? 20 : next);
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_sweep_obj, server_sweep);

// server.close(): stops accepting and closes every connection.
static mp_obj_t server_close(mp_obj_t self_in) {
    kiln_server_obj_t *srv = MP_OBJ_TO_PTR(self_in);
    if (srv->closed) {
        return mp_const_none;
    }
    srv->closed = true;
    for (size_t i = 0; i < srv->max_conns; i++) {
        if (srv->slots[i].conn != MP_OBJ_NULL) {
            kiln_conn_obj_t *c = MP_OBJ_TO_PTR(srv->slots[i].conn);
            if (c->phase == KILN_PH_UPGRADED && c->wlen == c->wpos && c->direct_len == 0) {
                // a WebSocket between frames learns why: close code 1001, "going away"
                static const byte going_away[] = { 0x88, 0x02, 0x03, 0xe9 };
                int err;
                kiln_write(c, going_away, sizeof(going_away), &err);
            }
            c->timer = KILN_T_NONE;
            kiln_conn_timeout(c);
        }
    }
    if (srv->poller != MP_OBJ_NULL) {
        kiln_unpoll(srv->poller, self_in, &srv->polled);
    }
    int err;
    mp_get_stream(srv->sock)->ioctl(srv->sock, MP_STREAM_CLOSE, 0, &err);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(server_close_obj, server_close);

static void server_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    kiln_server_obj_t *srv = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    if (attr == MP_QSTR_connections) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(srv->n_conns);
    } else if (attr == MP_QSTR_max_connections) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(srv->max_conns);
    } else if (attr == MP_QSTR_sock) {
        dest[0] = srv->sock;
    } else if (attr == MP_QSTR_closed) {
        dest[0] = mp_obj_new_bool(srv->closed);
    } else {
        dest[1] = MP_OBJ_SENTINEL;
    }
}

static const mp_rom_map_elem_t server_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_accept), MP_ROM_PTR(&server_accept_obj) },
    { MP_ROM_QSTR(MP_QSTR_attach), MP_ROM_PTR(&server_attach_obj) },
    { MP_ROM_QSTR(MP_QSTR_sweep), MP_ROM_PTR(&server_sweep_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&server_close_obj) },
};
static MP_DEFINE_CONST_DICT(server_locals, server_locals_table);

// The poller polls a Server as its listening socket.
static mp_uint_t server_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    kiln_server_obj_t *srv = MP_OBJ_TO_PTR(self_in);
    if (request != MP_STREAM_POLL && request != MP_STREAM_GET_FILENO) {
        *errcode = MP_EINVAL;
        return MP_STREAM_ERROR;
    }
    return mp_get_stream(srv->sock)->ioctl(srv->sock, request, arg, errcode);
}

static const mp_stream_p_t server_stream_p = {
    .ioctl = server_ioctl,
};

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_server_type,
    MP_QSTR_Server,
    MP_TYPE_FLAG_NONE,
    make_new, server_make_new,
    attr, server_attr,
    protocol, &server_stream_p,
    locals_dict, &server_locals
    );
