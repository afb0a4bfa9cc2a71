// _kiln.Conn: one client connection, driven by the poller (kiln_poll.c) or by its asyncio task
// through run(), respond(), fail() and feed(). Each call does all the work possible without
// waiting (read, parse, call the handler, write, next pipelined request) and returns a
// KILN_RUN_* code.
#include "py/runtime.h"
#include "py/objstr.h"
#include "py/mperrno.h"
#include "kiln_server.h"
#include "kiln_conn.h"

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

static int conn_respond_fn(kiln_conn_obj_t *c, mp_obj_t res) {
    if (c->phase != KILN_PH_HANDLER) {
        return KILN_RUN_CLOSE;
    }
    return kiln_conn_respond(c, res);
}

static int conn_feed_fn(kiln_conn_obj_t *c, mp_obj_t chunk) {
    if (c->phase != KILN_PH_ASTREAM) {
        return KILN_RUN_CLOSE;
    }
    if (chunk == mp_const_none) {
        return kiln_conn_stream_end(c);
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
    kiln_conn_chunk(c, chunk, (const byte *)p, n);
    return CONTINUE;
}

static mp_obj_t conn_enter(kiln_conn_obj_t *c, int (*fn)(kiln_conn_obj_t *, mp_obj_t), mp_obj_t arg) {
    return MP_OBJ_NEW_SMALL_INT(kiln_conn_settle(c, kiln_conn_turn(c, fn, arg), false));
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
    return MP_OBJ_NEW_SMALL_INT(kiln_conn_settle(c, kiln_conn_fail(c, exc), false));
}

static MP_DEFINE_CONST_FUN_OBJ_2(conn_fail_obj, conn_fail_py);

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
    { MP_ROM_QSTR(MP_QSTR_body_read), MP_ROM_PTR(&kiln_conn_body_read_obj) },
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
