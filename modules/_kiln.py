# The pure-Python `_kiln`: the same names and behaviour as Kiln's C module (cmodules/kiln/), for
# MicroPython firmware built without it (stock MicroPython >= 1.23, installed with mip) and for
# CPython. Where the C module is compiled in, `import _kiln` finds the built-in module first and
# this file is never loaded.
#
# It mirrors the C code: _kiln_http.py is kiln_http.c's parser (the same checks in the same
# order, so a request is refused with the same status at the same byte) and kiln_request.c's
# request binding; _kiln_loop.py is kiln_server.c/kiln_conn.c's socket loop, with the protocol
# kiln/server.py drives; _kiln_route.py is kiln_route.c's route lookup. Four modules rather than
# one, because a board compiles each .py it imports in RAM, and a smaller module needs a smaller
# peak of heap to compile.
# tests/test_fallback.py runs the same cases against both implementations.

from _kiln_http import (  # noqa: F401 - the module's names
    BODY_IN_MEMORY,
    MAX_CONNECTIONS,
    METHODS,
    Headers,
    Parser,
    Request,
    header_ok,
    is_coroutine_function,
    parse_qs,
    reason,
    url_decode,
    version,
)
from _kiln_loop import RUN_AWAIT, RUN_UPGRADE, RUN_WRITE, Conn, Loop, Server  # noqa: F401
from _kiln_route import route_match  # noqa: F401
