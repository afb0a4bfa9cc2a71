// The socket loop: a listening server (_kiln.Server) and its connections (_kiln.Conn).
//
// Connections wait in asyncio's poll set, served by kiln_poll.c's Loop: when one is ready, C
// reads, parses, calls the handler and writes as much as it can without waiting, and leaves it
// registered for what it waits for next (one of the KILN_RUN_* codes). Only what must run in
// Python (an awaitable handler, an async body, an upgraded connection) goes to the slot's
// worker task (modules/kiln/server.py), which gives the connection back when it waits again.
// Everything here goes through socket methods and the stream protocol only, so it is the same
// code on unix (BSD sockets), esp32 (lwIP sockets) and esp8266 (modlwip).
#ifndef KILN_SERVER_H
#define KILN_SERVER_H

#include "py/obj.h"
#include "py/objarray.h"
#include "py/stream.h"
#include "kiln_http.h"
#include "kiln_ws.h"

// From py/mphal.h, which is not included because on the ESP8266 it pulls in the SDK's headers.
mp_uint_t mp_hal_ticks_ms(void);

// Defaults a board can override; the Python glue may override them per server.
#ifndef KILN_RECV_BUFFER
#define KILN_RECV_BUFFER (512)
#endif
#ifndef KILN_SEND_BUFFER
#define KILN_SEND_BUFFER (1024)
#endif
#if KILN_RECV_BUFFER > 0xffff || KILN_SEND_BUFFER > 0xffff
#error "KILN_RECV_BUFFER and KILN_SEND_BUFFER must fit the server's uint16_t fields"
#endif
// Bodies up to this size are read before the handler runs (req.body); larger ones are left to
// req.stream when the server has a body_stream factory.
#ifndef KILN_BODY_IN_MEMORY
#define KILN_BODY_IN_MEMORY (16 * 1024)
#endif
// Linux's sendfile(2) writes a file to a plain socket without a copy through the heap: the unix
// firmware sends files larger than the send buffer's room with it. A board's lwIP sockets have
// no such call: files go through the send buffer there.
#ifndef KILN_SENDFILE
#if defined(__linux__) && MICROPY_VFS_POSIX
#define KILN_SENDFILE (1)
#else
#define KILN_SENDFILE (0)
#endif
#endif
// Every slot (its Conn object and buffers) is reserved when the server starts, so that serving a
// client never needs a large block; the slots take at most this share of the free heap, and a
// server asked for more connections gets fewer.
#ifndef KILN_SLOTS_HEAP_PERCENT
#define KILN_SLOTS_HEAP_PERCENT (50)
#endif

// What a step of a connection returns, in C as to Python: KILN_CONTINUE (go on) or one of the
// KILN_RUN_* codes (conn.run() and friends return those to the worker task).
#define KILN_CONTINUE (-1)
// What conn.run() and friends return to the Python task.
#define KILN_RUN_CLOSE (0)  // finished: close the connection
#define KILN_RUN_READ (1)   // wait until the socket is readable, then call run()
#define KILN_RUN_WRITE (2)  // wait until the socket is writable, then call run()
#define KILN_RUN_AWAIT (3)  // await conn.pending, then call respond(result) or fail(exc)
#define KILN_RUN_ANEXT (4)  // await conn.pending.__anext__(), then call feed(chunk or None)
#define KILN_RUN_UPGRADE (5) // a 101 went out: await conn.pending.serve(conn), then close

// Closing with unread input resets the connection (the client may lose our answer), so the
// loop first reads and drops: what has arrived (READY), or everything until the client closes
// or pauses for KILN_DRAIN_MS (LINGER: a refused or unread body is still on its way).
#define KILN_DRAIN_READY (1)
#define KILN_DRAIN_LINGER (2)
#ifndef KILN_DRAIN_MS
#define KILN_DRAIN_MS (1000)
#endif

// Under pressure (this share of the slots busy or more) a request head, or a new client's first
// byte, gets KILN_PRESSURE_HEAD_MS at most, and one client address max_per_client slots that
// have not been answered yet. The cap is on by default (half the slots) from
// KILN_PER_CLIENT_MIN_SLOTS slots: with fewer, one browser's parallel connections would hit it.
#ifndef KILN_PRESSURE_PERCENT
#define KILN_PRESSURE_PERCENT (75)
#endif
#ifndef KILN_PRESSURE_HEAD_MS
#define KILN_PRESSURE_HEAD_MS (2000)
#endif
#ifndef KILN_PER_CLIENT_MIN_SLOTS
#define KILN_PER_CLIENT_MIN_SLOTS (16)
#endif

// A connection ready to read takes at most this many reads of its buffer per turn, so that a
// client that keeps sending cannot hold the loop from the others.
#ifndef KILN_READS_PER_TURN
#define KILN_READS_PER_TURN (8)
#endif
#if KILN_READS_PER_TURN < 1 || KILN_READS_PER_TURN > 255
#error "KILN_READS_PER_TURN must fit a connection's uint8_t reads_left, and be 1 or more"
#endif

// When every slot is busy, a new client waits in the listen backlog (it is not accepted) until
// a slot frees, or a keep-alive connection has been answered, then idle for KILN_EVICT_IDLE_MS
// with nothing unread (it is closed for the newcomer), or clients have waited
// KILN_BACKLOG_WAIT_MS: then up to 4 × max_connections of them (the default backlog) are
// answered 503, and the ones after them wait again.
#ifndef KILN_EVICT_IDLE_MS
#define KILN_EVICT_IDLE_MS (1000)
#endif
#ifndef KILN_BACKLOG_WAIT_MS
#define KILN_BACKLOG_WAIT_MS (1000)
#endif

// A sync handler that holds the loop this long or longer gets a console line.
#ifndef KILN_BLOCKED_LOG_MS
#define KILN_BLOCKED_LOG_MS (1000)
#endif

// Request phases.
enum {
    KILN_PH_HEAD,       // reading a request head (idle when no byte of it has arrived)
    KILN_PH_BODY,       // reading a request body
    KILN_PH_HANDLER,    // the handler's awaitable is running in Python
    KILN_PH_SEND,       // writing a response whose body is already known
    KILN_PH_STREAM,     // writing a body from a file or a sync iterator
    KILN_PH_ASTREAM,    // writing a body from an async iterator (Python drives it)
    KILN_PH_UPGRADED,   // after a 101: the WebSocket methods (kiln_wsconn.c) own the socket
    KILN_PH_CLOSING,    // flush what is buffered, then close
    KILN_PH_CLOSED,
};

// What a timeout is currently measured against (a connection's timer, from its tstart).
enum {
    KILN_T_NONE,    // no timeout (the application is running)
    KILN_T_IDLE,    // keep-alive connection, nothing of the next request yet
    KILN_T_HEAD,
    KILN_T_BODY,
    KILN_T_SEND,    // the peer does not take our output
    KILN_T_DRAIN,   // dropping the rest of a refused body before closing
};

// How a response body is framed.
enum {
    KILN_FRAME_LENGTH,  // Content-Length known
    KILN_FRAME_CHUNKED,
    KILN_FRAME_CLOSE,   // ends when the connection closes (HTTP/1.0, unknown length)
    KILN_FRAME_NONE,    // no body on the wire (HEAD, 1xx, 204, 304)
};

// Kind of response body source for streaming.
enum {
    KILN_SRC_NONE,
    KILN_SRC_STREAM,    // native stream with a read method (files)
    KILN_SRC_READINTO,  // Python object with readinto()
    KILN_SRC_ITER,      // sync iterator of str/bytes chunks
    KILN_SRC_AITER,     // async iterator (driven by Python)
};

// A connection slot. Its Conn object and buffers outlive the connections that use them:
// allocated when the server starts, before the heap fragments, and reused by each connection.
typedef struct _kiln_slot_t {
    mp_obj_t conn;          // the connection using the slot, or MP_OBJ_NULL when free
    mp_obj_t obj;           // the slot's Conn object
    mp_obj_t rbuf;          // bytearray of recv_buffer bytes
    byte *wbuf;             // send_buffer bytes
} kiln_slot_t;

typedef struct _kiln_server_obj_t {
    mp_obj_base_t base;
    mp_obj_t sock;          // the listening socket
    mp_obj_t handler;
    mp_obj_t body_stream;   // makes req.stream from a Conn, for bodies over body_in_memory
    mp_obj_t wrap;          // wrap(sock) -> the stream to serve (TLS), or None
    const mp_obj_type_t *request_class; // what requests are made of (kiln_request_class)
    kiln_slot_t *slots;     // max_conns of them
    uint16_t max_conns;
    uint16_t n_conns;
    uint16_t max_per_client; // slots one client address may hold under pressure (0: any)
    uint16_t recv_buffer;
    uint16_t send_buffer;
    uint32_t body_in_memory;
    size_t out_grown;       // output buffer bytes held beyond send_buffer, all connections
    uint32_t head_ms;
    uint32_t body_ms;
    uint32_t idle_ms;
    uint32_t send_ms;
    bool access_log;
    bool debug;             // print tracebacks of handler errors
    bool closed;
    bool refusing;          // at the connection limit (logged once per episode)
    bool pressed;           // under pressure, or was less than KILN_PRESSURE_HEAD_MS ago
    uint32_t pressed_at;    // mp_hal_ticks_ms() when the sweep last saw pressure
    bool capping;           // refusing a client over max_per_client (logged once per episode)
    bool accept_failing;    // accept() fails, e.g. out of file descriptors (logged once)
    bool waiting;           // clients wait in the listen backlog for a slot
    uint32_t waiting_since; // mp_hal_ticks_ms() when they started to (or the last 503s went out)
    uint16_t refused;       // 503s answered since then
    kiln_http_limits_t limits;
    mp_obj_t poller;        // the select.poll its connections wait in (attach()), or NULL
    mp_obj_t dispatch;      // dispatch(conn, KILN_RUN_*): a connection's Python part begins
    uint8_t polled;         // what the listening socket is registered for (0: not registered)
    bool paused;            // not listening for a while: accept failed (out of memory or
                            // descriptors), or every slot is busy (retried by sweep, or when a
                            // slot frees)
    uint32_t paused_at;
} kiln_server_obj_t;

typedef struct _kiln_conn_obj_t {
    mp_obj_base_t base;
    kiln_server_obj_t *server;
    mp_obj_t sock;          // the client's stream: its socket, or the TLS stream over it
    mp_obj_t raw;           // the client's socket
    mp_obj_t peer;          // (host, port) or what accept() returned
    mp_obj_t task;          // the asyncio task serving this connection (set by Python)
    mp_obj_t rbuf;          // bytearray receive buffer, reused across requests
    mp_obj_t req;           // the current _kiln.Request, or None
    mp_obj_t pending;       // awaitable, body source or iterator of the current response
    mp_obj_t direct_obj;    // keeps the direct output segment alive
    const mp_stream_p_t *sp;
    byte *wbuf;             // output buffer
    const byte *direct;     // direct output segment, written after wbuf (large bodies)
    size_t direct_len;      // its bytes not yet written (0: none)
    size_t rlen;            // bytes in rbuf
    size_t rpos;            // where the current request starts in rbuf
    size_t head_len;        // length of the parsed head
    size_t head_line;       // while the head is incomplete: where its unfinished line starts
    size_t body_have;       // body bytes complete after the head (decoded for chunked)
    size_t body_left;       // streamed Content-Length body: bytes not yet read from the socket
    size_t bpos;            // streamed body: next byte to hand out, after the head
    size_t body_ready;      // streamed body: bytes ready after the head
    size_t drained;         // bytes dropped while draining
    size_t out_left;        // Content-Length framing: body bytes still to send
    size_t resp_start;      // wlen when the current response started (undone on a 500)
    uint32_t tstart;        // mp_hal_ticks_ms() when the timer started
    size_t wcap;
    size_t wlen;
    size_t wpos;
    uint16_t status;        // status of the response being sent (access log)
    uint8_t phase;
    uint8_t timer;          // what a timeout is measured against: KILN_T_*
    uint8_t frame;
    uint8_t src;
    uint16_t slot;
    bool can_read;          // reading may find data (woken readable, or not drained yet)
    bool keep_alive;        // keep the connection after this response
    bool head_only;         // HEAD request: no body on the wire
    bool continue_sent;     // 100 Continue written for this request
    bool served;            // at least one response was completed
    bool closed;            // the socket is closed (never closed twice: fds get reused)
    bool streaming;         // the body is left to req.stream
    bool body_done;         // streamed body: all of it was read from the socket
    uint8_t drain;          // before closing, read and drop input: KILN_DRAIN_*
    uint8_t polled;         // what it is registered for in the poller (0: not registered)
    uint8_t reads_left;     // reads it may still take this turn (KILN_READS_PER_TURN)
    kiln_http_chunked_t chunked;
    kiln_ws_reader_t ws;    // after an upgrade to WebSocket
} kiln_conn_obj_t;

extern const mp_obj_type_t kiln_server_type;
extern const mp_obj_type_t kiln_conn_type;
extern const mp_obj_type_t kiln_loop_type;

// kiln_poll.c
bool kiln_poll(mp_obj_t poller, mp_obj_t obj, uint8_t *polled, uint8_t events);
void kiln_unpoll(mp_obj_t poller, mp_obj_t obj, uint8_t *polled);

// kiln_server.c
void kiln_server_release(kiln_server_obj_t *srv, kiln_conn_obj_t *c);
void kiln_print_peer(const kiln_conn_obj_t *c);
void kiln_log(const kiln_conn_obj_t *c, unsigned status, const char *what);
void kiln_server_ready(kiln_server_obj_t *srv);

// kiln_conn.c (a connection's life), kiln_conn_type.c (_kiln.Conn), kiln_output.c (answering)
mp_obj_t kiln_peer_from_addr(mp_obj_t addr);
mp_obj_t kiln_conn_new(kiln_server_obj_t *srv, mp_obj_t sock, mp_obj_t raw, mp_obj_t peer, size_t slot);
void kiln_conn_close(kiln_conn_obj_t *c);
void kiln_conn_start(kiln_conn_obj_t *c);
void kiln_conn_ready(kiln_conn_obj_t *c);
void kiln_conn_timeout(kiln_conn_obj_t *c);
void kiln_conn_log_access(kiln_conn_obj_t *c);
// kiln_io.c: the connection's stream I/O (the stream protocol's read and write, MP_STREAM_ERROR
// and *err on an error), which never raises: a TLS stream's OSError counts as an error (EIO).
mp_uint_t kiln_read(kiln_conn_obj_t *c, void *buf, size_t n, int *err);
mp_uint_t kiln_write(kiln_conn_obj_t *c, const void *buf, size_t n, int *err);
#if KILN_SENDFILE
bool kiln_can_sendfile(kiln_conn_obj_t *c, mp_obj_t file);
mp_uint_t kiln_sendfile(kiln_conn_obj_t *c, mp_obj_t file, size_t n, int *err);
#endif

// kiln_input.c: the receive buffer (a bytearray, so that a Request can keep it alive).
static inline byte *kiln_rbuf_items(kiln_conn_obj_t *c) {
    return ((mp_obj_array_t *)MP_OBJ_TO_PTR(c->rbuf))->items;
}
static inline size_t kiln_rbuf_cap(kiln_conn_obj_t *c) {
    return ((mp_obj_array_t *)MP_OBJ_TO_PTR(c->rbuf))->len;
}
// Grows or shrinks it (kiln_conn_close gives the slot its usual size back).
void kiln_rbuf_resize(kiln_conn_obj_t *c, size_t cap);

// kiln_wsconn.c: a connection upgraded to WebSocket.
void kiln_conn_upgrade(kiln_conn_obj_t *c, mp_obj_t headers, mp_obj_t body);
MP_DECLARE_CONST_FUN_OBJ_VAR_BETWEEN(kiln_conn_ws_recv_obj);
MP_DECLARE_CONST_FUN_OBJ_VAR_BETWEEN(kiln_conn_ws_send_obj);
MP_DECLARE_CONST_FUN_OBJ_1(kiln_conn_ws_flush_obj);

// kiln_response.c: the output buffer and response heads.
void kiln_out_reserve(kiln_conn_obj_t *c, size_t n);
bool kiln_out_resize(kiln_conn_obj_t *c, size_t cap);
void kiln_out_grow(kiln_conn_obj_t *c, size_t cap);
void kiln_out_add(kiln_conn_obj_t *c, const void *data, size_t n);
void kiln_out_str(kiln_conn_obj_t *c, const char *s);
void kiln_out_uint(kiln_conn_obj_t *c, size_t n, unsigned base);
// KILN_CONTINUE once everything is written, KILN_RUN_WRITE when the socket is full,
// KILN_RUN_CLOSE when the peer is gone.
int kiln_out_flush(kiln_conn_obj_t *c);
void kiln_out_simple(kiln_conn_obj_t *c, unsigned status, bool close);
bool kiln_out_head(kiln_conn_obj_t *c, unsigned status, mp_obj_t headers, bool known, size_t len);

#endif // KILN_SERVER_H
