# Runs inside the unix firmware (bench/parser.py starts it): requests parsed per second through
# _kiln.Parser and through the pure-Python pyparser, each reading method, path and the Host
# header as the router would. Prints one repr'd tuple per run.
import gc
import time

import _kiln
import pyparser
from requests import REQUESTS

RUNS = 5
RUN_US = 300000


# The loops are written out in each function so that no call per request adds to the time.
def kiln_loop(parser, data, n):
    for _ in range(n):
        r = parser.feed(data)
        _method, _path, _host = r.method, r.path, r.headers.get("host")
    return r.method, r.path, r.headers.get("host")


def py_loop(parser, data, n):
    parse = pyparser.parse
    for _ in range(n):
        r = parse(data)
        _method, _path, _host = r.method, r.path, r.headers.get("host")
    return r.method, r.path, r.headers.get("host")


def rate(loop, parser, data):
    # Both start from a collected heap: MicroPython's allocator is slower the more of the heap
    # was used since the last collection, so the state left by the previous run would count.
    gc.collect()
    n = 0
    t0 = time.ticks_us()
    while True:
        loop(parser, data, 100)
        n += 100
        dt = time.ticks_diff(time.ticks_us(), t0)
        if dt >= RUN_US:
            return n * 1000000 / dt


def main():
    parser = _kiln.Parser(max_headers=48)
    for name, data, _ in REQUESTS:
        # Both must agree before they are timed.
        assert kiln_loop(parser, data, 1) == py_loop(None, data, 1)
        for run in range(RUNS):
            print(repr((name, "kiln", run, rate(kiln_loop, parser, data))))
            print(repr((name, "python", run, rate(py_loop, None, data))))


main()
