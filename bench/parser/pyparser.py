# A pure-Python HTTP/1.1 request head parser, written for the benchmark comparison: it does what
# a careful Python framework does (split lines, validate the method and header-name tokens and
# the value characters, lower-case header names into a dict, read a Content-Length body).
# Runs on MicroPython.

_TOKEN = set(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class BadRequest(Exception):
    pass


class Request:
    def __init__(self, method, path, query_string, http_version, headers, body):
        self.method = method
        self.path = path
        self.query_string = query_string
        self.http_version = http_version
        self.headers = headers
        self.body = body


def _token(b):
    if not b:
        raise BadRequest(400)
    for c in b:
        if c not in _TOKEN:
            raise BadRequest(400)


def _value(b):
    for c in b:
        if (c < 32 and c != 9) or c == 127:
            raise BadRequest(400)


def parse(data):
    """Parse one request from data (bytes); None when the head is incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise BadRequest(400)
    method, target, version = parts
    _token(method)
    if version == b"HTTP/1.1":
        http_version = "1.1"
    elif version == b"HTTP/1.0":
        http_version = "1.0"
    else:
        raise BadRequest(505)
    for c in target:
        if c <= 32 or c >= 127:
            raise BadRequest(400)
    headers = {}
    for line in lines[1:]:
        i = line.find(b":")
        if i <= 0:
            raise BadRequest(400)
        name = line[:i]
        _token(name)
        value = line[i + 1 :].strip(b" \t")
        _value(value)
        headers[name.decode().lower()] = value.decode()
    path, _, query = target.decode().partition("?")
    body = b""
    length = headers.get("content-length")
    if length is not None:
        n = int(length)
        body = data[end + 4 : end + 4 + n]
        if len(body) < n:
            return None
    return Request(method.decode(), path, query, http_version, headers, body)
