// The one poller: asyncio's IOQueue waits in Loop.wait (kiln/server.py installs it as the
// queue's wait_io_event), one poll over asyncio's own streams and every Kiln connection. A ready
// connection is served here, in C, until it must wait again; a ready stream of asyncio's wakes
// its task exactly as asyncio's own wait_io_event does. So a request to a sync handler costs no
// task, no scheduler pass and no poll registration: the connection stays registered (the Conn
// object itself, whose stream ioctl is its socket's) while the client keeps it open.
//
// Everything goes through select.poll's methods, so it is the same code on unix (poll(2) on the
// sockets' file descriptors) and on the boards (each socket's MP_STREAM_POLL).
#include <string.h>

#include "py/runtime.h"
#include "py/stream.h"
#include "py/gc.h"
#include "kiln_server.h"

// Ready objects taken from one poll: the rest are reported again by the next one.
#ifndef KILN_POLL_BATCH
#define KILN_POLL_BATCH (16)
#endif

// asyncio's ticks(): time.ticks_ms(), which wraps at MICROPY_PY_TIME_TICKS_PERIOD.
#define KILN_TICKS_PERIOD (1 << 30)

typedef struct _kiln_loop_obj_t {
    mp_obj_base_t base;
    mp_obj_t poller;    // asyncio's select.poll
    mp_obj_t map;       // asyncio's IOQueue.map: id(stream) -> [reading task, writing task, stream]
    mp_obj_t tasks;     // asyncio's run queue (_task_queue)
    mp_int_t found_at;  // asyncio's ticks() when the deferred ones were found ready
    size_t n_deferred;
    mp_obj_t deferred[KILN_POLL_BATCH]; // connections found ready while tasks waited to run
} kiln_loop_obj_t;

// poller.<method>(obj[, events]); false if it raised (out of memory).
static bool poller_call(mp_obj_t poller, qstr method, mp_obj_t obj, int events) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t dest[4];
        mp_load_method(poller, method, dest);
        dest[2] = obj;
        dest[3] = MP_OBJ_NEW_SMALL_INT(events);
        mp_call_method_n_kw(events ? 2 : 1, 0, dest);
        nlr_pop();
        return true;
    }
    return false;
}

// Registers obj for events (MP_STREAM_POLL_RD or _WR), or changes what it waits for; *polled
// holds what it is registered for (0: not registered). False when the poller is out of memory.
bool kiln_poll(mp_obj_t poller, mp_obj_t obj, uint8_t *polled, uint8_t events) {
    if (*polled == events) {
        return true;
    }
    if (poller_call(poller, *polled ? MP_QSTR_modify : MP_QSTR_register, obj, events)) {
        *polled = events;
        return true;
    }
    if (!*polled) {
        // A failed register leaves an empty entry in the poll set that unregister cannot
        // remove (and poll would trip on): fill it, then remove it.
        gc_collect();
        if (poller_call(poller, MP_QSTR_register, obj, events)) {
            poller_call(poller, MP_QSTR_unregister, obj, 0);
        }
    }
    return false;
}

void kiln_unpoll(mp_obj_t poller, mp_obj_t obj, uint8_t *polled) {
    if (*polled) {
        *polled = 0;
        poller_call(poller, MP_QSTR_unregister, obj, 0);
    }
}

// What asyncio's wait_io_event does with one of its streams: wake the task reading (POLLIN or
// an error) and the one writing (POLLOUT or an error), and keep waiting for what is left.
static void wake_tasks(kiln_loop_obj_t *self, mp_obj_t s, mp_uint_t ev) {
    mp_map_elem_t *e = mp_map_lookup(mp_obj_dict_get_map(self->map), mp_obj_id(s), MP_MAP_LOOKUP);
    if (e == NULL) {
        return;
    }
    size_t n;
    mp_obj_t *waiting;
    mp_obj_list_get(e->value, &n, &waiting);
    for (int i = 0; i < 2; i++) {
        mp_uint_t wakes = i == 0 ? ~MP_STREAM_POLL_WR : ~MP_STREAM_POLL_RD;
        if ((ev & wakes) && waiting[i] != mp_const_none) {
            mp_obj_t dest[3];
            mp_load_method(self->tasks, MP_QSTR_push, dest);
            dest[2] = waiting[i];
            mp_call_method_n_kw(1, 0, dest);
            waiting[i] = mp_const_none;
        }
    }
    if (waiting[0] == mp_const_none && waiting[1] == mp_const_none) {
        mp_obj_dict_delete(self->map, mp_obj_id(s));
        poller_call(self->poller, MP_QSTR_unregister, s, 0);
    } else {
        poller_call(self->poller, MP_QSTR_modify, s,
            waiting[0] == mp_const_none ? MP_STREAM_POLL_WR : MP_STREAM_POLL_RD);
    }
}

// asyncio asks for a poll before every step of every task. A connection is served when it is
// handled, ahead of whatever asyncio has queued, so one found ready while tasks wait to run
// waits its turn as a task would: it is served once the tasks queued when it was found have run
// (the first task in the queue became ready, its ph_key, after that). Served at once instead, a
// busy client would go ahead of the app's tasks at every step (measured: 20 event streams fell
// behind a client publishing to them, and their queues filled).
// Ticks from `when` to the ph_key of the first task in asyncio's queue (the time it became
// ready, or is due), in asyncio's ticks() arithmetic; false when no task is queued.
static bool first_task_since(kiln_loop_obj_t *self, mp_int_t when, mp_int_t *since) {
    mp_obj_t dest[2];
    mp_load_method(self->tasks, MP_QSTR_peek, dest);
    mp_obj_t task = mp_call_method_n_kw(0, 0, dest);
    if (task == mp_const_none) {
        return false;
    }
    mp_int_t d = (mp_obj_get_int(mp_load_attr(task, MP_QSTR_ph_key)) - when) & (KILN_TICKS_PERIOD - 1);
    *since = d < KILN_TICKS_PERIOD / 2 ? d : d - KILN_TICKS_PERIOD;
    return true;
}

static bool tasks_ran_since(kiln_loop_obj_t *self, mp_int_t when) {
    mp_int_t since;
    return !first_task_since(self, when, &since) || since > 0;
}

static void serve(mp_obj_t obj) {
    if (mp_obj_is_type(obj, &kiln_conn_type)) {
        kiln_conn_ready(MP_OBJ_TO_PTR(obj));
    } else {
        kiln_server_ready(MP_OBJ_TO_PTR(obj));
    }
}

static mp_obj_t serve_deferred(kiln_loop_obj_t *self) {
    // taken out first: serving may defer nothing new, but a handler may run the loop's wait
    mp_obj_t objs[KILN_POLL_BATCH] = { MP_OBJ_NULL };
    size_t n = self->n_deferred;
    memcpy(objs, self->deferred, n * sizeof(mp_obj_t));
    memset(self->deferred, 0, sizeof(self->deferred));
    self->n_deferred = 0;
    for (size_t i = 0; i < n; i++) {
        serve(objs[i]);
        objs[i] = MP_OBJ_NULL;
    }
    return mp_const_none;
}

// After serving, what asyncio's loop would wait next: the ms until the first task in the queue
// is due, or 0 when one is due now, a task of asyncio's stream woke, or no task is queued (the
// loop then decides whether to end).
static mp_obj_t next_wait(kiln_loop_obj_t *self) {
    mp_int_t due;
    if (!first_task_since(self, mp_hal_ticks_ms() & (KILN_TICKS_PERIOD - 1), &due) || due < 0) {
        due = 0;
    }
    return MP_OBJ_NEW_SMALL_INT(due);
}

// One poll: wakes the tasks of asyncio's streams that are ready and serves the connections that
// are, or defers them when busy (see tasks_ran_since); false when it woke a task.
static bool poll_once(kiln_loop_obj_t *self, mp_obj_t dt, bool busy) {
    mp_obj_t dest[3];
    mp_load_method(self->poller, MP_QSTR_ipoll, dest);
    dest[2] = dt;
    mp_obj_t it = mp_call_method_n_kw(1, 0, dest);
    // Taken out first: serving one may register or unregister others, which ipoll's iteration
    // over the poll set would not survive. Zeroed: the collector scans the C stack, and a
    // stale pointer here would keep an object alive.
    mp_obj_t ready[KILN_POLL_BATCH] = { MP_OBJ_NULL };
    mp_uint_t events[KILN_POLL_BATCH];
    size_t n = 0;
    mp_obj_t item;
    while (n < KILN_POLL_BATCH && (item = mp_iternext(it)) != MP_OBJ_STOP_ITERATION) {
        mp_obj_t *pair = ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(item))->items;
        ready[n] = pair[0];
        events[n++] = MP_OBJ_SMALL_INT_VALUE(pair[1]);
    }
    bool woke = false;
    for (size_t i = 0; i < n; i++) {
        const mp_obj_type_t *type = mp_obj_get_type(ready[i]);
        if (type != &kiln_conn_type && type != &kiln_server_type) {
            wake_tasks(self, ready[i], events[i]);
            woke = true;
        } else if (busy) {
            self->deferred[self->n_deferred++] = ready[i];
        } else {
            serve(ready[i]);
        }
        ready[i] = MP_OBJ_NULL;
    }
    if (self->n_deferred) {
        self->found_at = mp_hal_ticks_ms() & (KILN_TICKS_PERIOD - 1);
    }
    return n > 0 && !woke;
}

// loop.wait(dt): asyncio's wait_io_event(dt): waits at most dt ms (-1: until something is
// ready; 0: tasks wait to run) for streams and connections. While it only serves connections
// and no task is due, it waits again without going back to asyncio's loop (a keep-alive
// request then costs no pass of that Python loop).
static mp_obj_t loop_wait(mp_obj_t self_in, mp_obj_t dt) {
    kiln_loop_obj_t *self = MP_OBJ_TO_PTR(self_in);
    bool busy = dt == MP_OBJ_NEW_SMALL_INT(0);
    if (self->n_deferred) {
        if (busy && !tasks_ran_since(self, self->found_at)) {
            return mp_const_none;
        }
        return serve_deferred(self);
    }
    while (poll_once(self, dt, busy) && !busy) {
        dt = next_wait(self);
        if (dt == MP_OBJ_NEW_SMALL_INT(0)) {
            break;
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(loop_wait_obj, loop_wait);

// Loop(poller, map, tasks): the wait of asyncio's IOQueue with that poller and map.
static mp_obj_t loop_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 3, 3, false);
    kiln_loop_obj_t *self = mp_obj_malloc(kiln_loop_obj_t, type);
    self->poller = args[0];
    self->map = args[1];
    self->tasks = args[2];
    return MP_OBJ_FROM_PTR(self);
}

static const mp_rom_map_elem_t loop_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_wait), MP_ROM_PTR(&loop_wait_obj) },
};
static MP_DEFINE_CONST_DICT(loop_locals, loop_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    kiln_loop_type,
    MP_QSTR_Loop,
    MP_TYPE_FLAG_NONE,
    make_new, loop_make_new,
    locals_dict, &loop_locals
    );
