// What the files of a connection share (kiln_conn.c, kiln_input.c, kiln_output.c,
// kiln_conn_type.c); included by those files only. kiln_server.h has what the rest of the
// module uses.
//
// A step returns CONTINUE (go on) or the KILN_RUN_* code to return (kiln_server.h); on
// KILN_RUN_CLOSE the state machine or kiln_conn_turn closes the connection.
#ifndef KILN_CONN_H
#define KILN_CONN_H

#include "kiln_server.h"

#define CONTINUE KILN_CONTINUE

// kiln_conn.c: a connection's life.
// One turn: fn(c, arg) (when fn is not NULL), then the state machine until it must wait; an
// exception becomes a 500 or a close.
int kiln_conn_turn(kiln_conn_obj_t *c, int (*fn)(kiln_conn_obj_t *, mp_obj_t), mp_obj_t arg);
// After a turn: back into the poll set, or over to the slot's worker (polled: the poller
// served it).
int kiln_conn_settle(kiln_conn_obj_t *c, int r, bool polled);
int kiln_conn_fail(kiln_conn_obj_t *c, mp_obj_t exc);
void kiln_conn_drop_request(kiln_conn_obj_t *c);
void kiln_close_source(mp_obj_t obj);

// kiln_input.c: reading requests.
int kiln_conn_head(kiln_conn_obj_t *c);
int kiln_conn_body(kiln_conn_obj_t *c);
void kiln_conn_end_streaming(kiln_conn_obj_t *c);
void kiln_conn_start_drain(kiln_conn_obj_t *c, uint8_t how);
int kiln_conn_drain(kiln_conn_obj_t *c);
MP_DECLARE_CONST_FUN_OBJ_2(kiln_conn_body_read_obj);

// kiln_output.c: answering.
int kiln_conn_call(kiln_conn_obj_t *c);
int kiln_conn_respond(kiln_conn_obj_t *c, mp_obj_t res);
void kiln_conn_chunk(kiln_conn_obj_t *c, mp_obj_t obj, const byte *p, size_t n);
int kiln_conn_flush_direct(kiln_conn_obj_t *c);
int kiln_conn_stream(kiln_conn_obj_t *c);
int kiln_conn_stream_end(kiln_conn_obj_t *c);
int kiln_conn_done(kiln_conn_obj_t *c);

#endif // KILN_CONN_H
