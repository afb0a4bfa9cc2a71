// A connection's stream I/O: the stream protocol's read and write, which never raise.
#include "py/runtime.h"
#include "py/mperrno.h"
#include "kiln_server.h"

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
