# Runs inside the unix firmware (bench/parser.py starts it): requests parsed per second through
# _kiln.Parser and through the pure-Python pyparser, each reading method, path and the Host
# header as the router would. Prints one repr'd tuple per run.
import time

import _kiln
import pyparser
from requests import REQUESTS

RUNS = 5
RUN_US = 300000


def kiln_one(parser, data):
    r = parser.feed(data)
    return r.method, r.path, r.headers.get("host")


def py_one(parser, data):
    r = pyparser.parse(data)
    return r.method, r.path, r.headers.get("host")


def rate(fn, parser, data):
    n = 0
    t0 = time.ticks_us()
    while True:
        for _ in range(100):
            fn(parser, data)
        n += 100
        dt = time.ticks_diff(time.ticks_us(), t0)
        if dt >= RUN_US:
            return n * 1000000 / dt


def main():
    parser = _kiln.Parser(max_headers=48)
    for name, data, _ in REQUESTS:
        # Both must agree before they are timed.
        assert kiln_one(parser, data) == py_one(None, data)
        for run in range(RUNS):
            print(repr((name, "kiln", run, rate(kiln_one, parser, data))))
            print(repr((name, "python", run, rate(py_one, None, data))))


main()
