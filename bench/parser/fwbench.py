# Runs inside the unix firmware (bench/parser.py starts it once per measurement, so that every
# run begins with the same fresh heap: MicroPython's allocator is faster or slower depending on
# what the heap went through before). Measures requests parsed per second through _kiln.Parser
# or through the pure-Python pyparser, each reading method, path and the Host header as the
# router would, and prints the rate.
import gc
import time

import _kiln
import pyparser
from requests import REQUESTS

RUN_US = 300000


# The loops are written out in each function so that no call per request adds to the time.
def kiln_loop(data, n):
    parser = _kiln.Parser(max_headers=48)
    for _ in range(n):
        r = parser.feed(data)
        _method, _path, _host = r.method, r.path, r.headers.get("host")
    return r.method, r.path, r.headers.get("host")


def py_loop(data, n):
    parse = pyparser.parse
    for _ in range(n):
        r = parse(data)
        _method, _path, _host = r.method, r.path, r.headers.get("host")
    return r.method, r.path, r.headers.get("host")


def timed(loop, data, n):
    gc.collect()
    t0 = time.ticks_us()
    loop(data, n)
    return time.ticks_diff(time.ticks_us(), t0)


def main(name, which):
    data = [d for n, d, _ in REQUESTS if n == name][0]
    # Both must agree before either is timed.
    assert kiln_loop(data, 1) == py_loop(data, 1)
    loop = kiln_loop if which == "kiln" else py_loop
    # One call of the loop per measurement: calls between chunks would free their frames and move
    # the allocator's search start back, which changes the cost of every allocation after them.
    n = 100
    dt = timed(loop, data, n)
    while dt < RUN_US // 10:
        n *= 4
        dt = timed(loop, data, n)
    n = n * RUN_US // dt
    print(n * 1000000 / timed(loop, data, n))
