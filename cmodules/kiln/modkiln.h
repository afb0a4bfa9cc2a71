// Declarations shared by the files of the _kiln module.
#ifndef KILN_MODKILN_H
#define KILN_MODKILN_H

#include "py/obj.h"

#define KILN_VERSION "0.1.0"

// The most client connections a server holds at once on this board (mpconfigboard.h may set
// it); 0 sizes it from the heap (kiln.server).
#ifndef KILN_MAX_CONNECTIONS
#define KILN_MAX_CONNECTIONS (0)
#endif

// The reason phrase of an HTTP status ("" when unknown), from the one table in kiln_response.c.
const char *kiln_reason(unsigned status);

// _kiln.header_ok(name, value): whether a response header may be written as given, by the
// parser's own field rules (kiln_http_field_ok); kiln.response uses it.
MP_DECLARE_CONST_FUN_OBJ_2(kiln_header_ok_obj);

// _kiln.route_match(router, path, out): kiln.routing.Router.match (kiln_route.c); out, a list
// of two, is filled with [entry, argument] and returned, else None.
MP_DECLARE_CONST_FUN_OBJ_3(kiln_route_match_obj);

// Writes a view's dict or list (any value) as JSON, exactly as json.dumps with print's
// separators would (kiln_json.c).
void kiln_json_print(const mp_print_ext_t *print, mp_obj_t o);

#endif
