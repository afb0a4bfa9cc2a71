// A connection's stream I/O: the stream protocol's read and write, which never raise.
#include "py/runtime.h"
#include "py/mperrno.h"
#include "kiln_server.h"

#if KILN_SENDFILE
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include "extmod/vfs_posix.h"

extern const mp_obj_type_t mp_type_socket;
#endif

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

#if KILN_SENDFILE
// Whether file can go to the connection through sendfile(2): a file of the POSIX VFS, to a
// plain socket (c->sock is then the socket itself, never a TLS stream, which would hand a
// fileno request down to its socket).
bool kiln_can_sendfile(kiln_conn_obj_t *c, mp_obj_t file) {
    return mp_obj_is_type(c->sock, &mp_type_socket) && mp_obj_is_type(file, &mp_type_vfs_posix_fileio);
}

// Writes the buffered output (a response's head) marked MSG_MORE, so that the kernel holds it
// for the file and both leave in one segment, then up to n bytes of file from its position,
// without a copy through the heap. As a stream write: the file's bytes written, or
// MP_STREAM_ERROR with *err set.
mp_uint_t kiln_sendfile(kiln_conn_obj_t *c, mp_obj_t file, size_t n, int *err) {
    int sock_fd = c->sp->ioctl(c->sock, MP_STREAM_GET_FILENO, 0, err);
    while (c->wpos < c->wlen) {
        ssize_t w = send(sock_fd, c->wbuf + c->wpos, c->wlen - c->wpos, MSG_MORE);
        if (w < 0) {
            *err = errno;
            return MP_STREAM_ERROR;
        }
        c->wpos += w;
    }
    c->wpos = c->wlen = 0;
    c->resp_start = 0;
    int file_fd = mp_get_stream(file)->ioctl(file, MP_STREAM_GET_FILENO, 0, err);
    ssize_t w = sendfile(sock_fd, file_fd, NULL, n);
    if (w < 0) {
        *err = errno;
        return MP_STREAM_ERROR;
    }
    return w;
}
#endif
