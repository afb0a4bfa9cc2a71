// The _kiln module: Kiln's C core as seen from Python.
#include "py/runtime.h"
#include "modkiln.h"
#include "kiln_request.h"
#include "kiln_url.h"
#include "kiln_server.h"

static mp_obj_t kiln_version(void) {
    return mp_obj_new_str_from_cstr(KILN_VERSION);
}
static MP_DEFINE_CONST_FUN_OBJ_0(kiln_version_obj, kiln_version);

// _kiln.is_coroutine_function(f): whether calling f gives a coroutine. MicroPython gives an
// async def function a type of its own only when it is neither a closure (it uses a variable of
// the function it is defined in) nor a bound method; both hold the function as their first field.
static mp_obj_t kiln_is_coroutine_function(mp_obj_t f) {
    for (;;) {
        const mp_obj_type_t *t = mp_obj_get_type(f);
        if (t == &mp_type_gen_wrap) {
            return mp_const_true;
        }
        #if MICROPY_EMIT_NATIVE
        if (t == &mp_type_native_gen_wrap) {
            return mp_const_true;
        }
        #endif
        if (t != &mp_type_bound_meth && t->name != MP_QSTR_closure) {
            return mp_const_false;
        }
        f = ((const struct { mp_obj_base_t base; mp_obj_t fun; } *)MP_OBJ_TO_PTR(f))->fun;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_1(kiln_is_coroutine_function_obj, kiln_is_coroutine_function);

// _kiln.reason(status): the reason phrase the loop writes for status ("" when it knows none).
static mp_obj_t kiln_reason_fun(mp_obj_t status) {
    return mp_obj_new_str_from_cstr(kiln_reason(mp_obj_get_int(status)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(kiln_reason_obj, kiln_reason_fun);

static const mp_rom_map_elem_t kiln_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__kiln) },
    { MP_ROM_QSTR(MP_QSTR_version), MP_ROM_PTR(&kiln_version_obj) },
    { MP_ROM_QSTR(MP_QSTR_is_coroutine_function), MP_ROM_PTR(&kiln_is_coroutine_function_obj) },
    { MP_ROM_QSTR(MP_QSTR_MAX_CONNECTIONS), MP_ROM_INT(KILN_MAX_CONNECTIONS) },
    { MP_ROM_QSTR(MP_QSTR_BODY_IN_MEMORY), MP_ROM_INT(KILN_BODY_IN_MEMORY) },
    // what a Conn's methods return to the worker task (kiln_server.h KILN_RUN_*)
    { MP_ROM_QSTR(MP_QSTR_RUN_WRITE), MP_ROM_INT(KILN_RUN_WRITE) },
    { MP_ROM_QSTR(MP_QSTR_RUN_AWAIT), MP_ROM_INT(KILN_RUN_AWAIT) },
    { MP_ROM_QSTR(MP_QSTR_RUN_UPGRADE), MP_ROM_INT(KILN_RUN_UPGRADE) },
    { MP_ROM_QSTR(MP_QSTR_Request), MP_ROM_PTR(&kiln_type_request) },
    { MP_ROM_QSTR(MP_QSTR_Headers), MP_ROM_PTR(&kiln_type_headers) },
    { MP_ROM_QSTR(MP_QSTR_Parser), MP_ROM_PTR(&kiln_type_parser) },
    { MP_ROM_QSTR(MP_QSTR_METHODS), MP_ROM_PTR(&kiln_methods_obj) },
    { MP_ROM_QSTR(MP_QSTR_url_decode), MP_ROM_PTR(&kiln_url_decode_obj) },
    { MP_ROM_QSTR(MP_QSTR_parse_qs), MP_ROM_PTR(&kiln_parse_qs_obj) },
    { MP_ROM_QSTR(MP_QSTR_header_ok), MP_ROM_PTR(&kiln_header_ok_obj) },
    { MP_ROM_QSTR(MP_QSTR_reason), MP_ROM_PTR(&kiln_reason_obj) },
    { MP_ROM_QSTR(MP_QSTR_route_match), MP_ROM_PTR(&kiln_route_match_obj) },
    { MP_ROM_QSTR(MP_QSTR_Server), MP_ROM_PTR(&kiln_server_type) },
    { MP_ROM_QSTR(MP_QSTR_Loop), MP_ROM_PTR(&kiln_loop_type) },
};
static MP_DEFINE_CONST_DICT(kiln_module_globals, kiln_module_globals_table);

const mp_obj_module_t kiln_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&kiln_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__kiln, kiln_user_cmodule);
