#!/usr/bin/env bash
# Stock MicroPython (make unix-stock) with Kiln's Python modules and the pure-Python _kiln on its
# path, as `mip install` leaves them on a board: a stand-in for firmware/UNIX/kiln that has no
# C module. `make test-fallback` runs the socket-loop and framework suites on it
# (KILN_FIRMWARE=tools/stock-kiln.sh).
here=$(cd "$(dirname "$0")/.." && pwd)
MICROPYPATH=".frozen:$here/modules" exec "${KILN_STOCK_FIRMWARE:-$here/build/unix-stock/micropython}" "$@"
