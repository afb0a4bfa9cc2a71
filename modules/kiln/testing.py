# TestClient: serves one request at a time in-process, through the C parser, with no socket.
import json as _json

import _kiln

from kiln.response import NoCaseDict
from kiln.routing import urlencode
from kiln.text import partition


async def _await(x):
    return await x


async def _drain_async(it):
    out = []
    while True:
        try:
            chunk = await it.__anext__()
        except StopAsyncIteration:
            return out
        out.append(chunk)


def _run(coro):
    import asyncio

    return asyncio.run(coro)


def _to_bytes(chunk):
    return chunk.encode() if type(chunk) is str else bytes(chunk)


def read_body(body, length=None):
    """Everything a response body (as the C loop accepts it) would send, as bytes: of a file,
    at most ``length`` bytes when given (the response's Content-Length, where the loop stops)."""
    if body is None:
        return b""
    t = type(body)
    if t is str or t is bytes or t is bytearray or t is memoryview:
        return _to_bytes(body)
    if t is dict or t is list:
        return _json.dumps(body).encode()
    if hasattr(body, "readinto"):
        out = bytearray()
        buf = bytearray(512)
        while length is None or len(out) < length:
            n = body.readinto(buf)
            if not n:
                break
            out += buf[:n]
        if length is not None:
            out = out[:length]
        if hasattr(body, "close"):
            body.close()
        return bytes(out)
    if hasattr(body, "__anext__"):
        chunks = _run(_drain_async(body))
    else:
        chunks = list(body)
    return b"".join(_to_bytes(c) for c in chunks)


class TestResponse:
    """What the client received: ``status_code``, ``headers`` (case-insensitive; repeated
    headers such as Set-Cookie are joined by ', ' there, all in ``header_list``), ``body``
    (bytes), ``text`` and ``json``."""

    def __init__(self, status_code, headers, body):
        self.status_code = status_code
        self.header_list = []
        self.headers = NoCaseDict()
        if headers:
            for k, v in headers.items() if hasattr(headers, "items") else headers:
                self.header_list.append((k, v))
                old = self.headers.get(k)
                self.headers[k] = v if old is None else old + ", " + v
        self.body = body

    @property
    def text(self):
        return self.body.decode()

    @property
    def json(self):
        return _json.loads(self.body)

    def getall(self, name):
        """Every value of header ``name``."""
        name = name.lower()
        return [v for k, v in self.header_list if k.lower() == name]


class TestClient:
    """Run ``app`` in-process for tests: ``client.get('/path')`` returns a TestResponse.

    Requests are serialised to HTTP/1.1 bytes, parsed by ``_kiln.Parser`` and handed to
    ``app.handle``; async handlers run under ``asyncio.run``. Cookies set by responses are kept
    and sent back (``client.cookies``)."""

    __test__ = False

    def __init__(self, app, cookies=None, headers=None):
        self.app = app
        self.cookies = dict(cookies or {})
        self.headers = dict(headers or {})

    def request(self, method, path, headers=None, body=None, json=None, form=None):
        """Send one request; ``json`` (a value) or ``form`` (a dict) set the body and type."""
        hdrs = NoCaseDict({"Host": "localhost"})
        hdrs.update(self.headers)
        if json is not None:
            body = _json.dumps(json)
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if headers:
            hdrs.update(headers)
        if self.cookies and "Cookie" not in hdrs:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = _to_bytes(body) if body is not None else b""
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(body))
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        for k, v in hdrs.items():
            head += "%s: %s\r\n" % (k, v)
        raw = (head + "\r\n").encode() + body
        try:
            creq = _kiln.Parser(max_body=self.app._request.max_content_length,
                                 request_class=self.app._request).feed(raw)
        except ValueError as e:
            return TestResponse(e.args[0], None, str(e.args[1]).encode() if len(e.args) > 1 else b"")
        if creq is None:
            raise ValueError("TestClient: the parser wants more bytes than the request has")
        from kiln import app as app_module

        app_module.current_app = self.app
        result = self.app.handle(creq)
        if type(result) is not tuple:
            result = _run(_await(result))
        status, headers, rbody = result
        res = TestResponse(status, headers, b"")
        length = res.headers.get("Content-Length")
        data = read_body(rbody, None if length is None else int(length))
        if method != "HEAD":
            res.body = data
        self._update_cookies(res)
        return res

    def _update_cookies(self, res):
        for value in res.getall("Set-Cookie"):
            pair, _, attrs = partition(value, ";")
            name, _, val = partition(pair, "=")
            name = name.strip()
            attrs = attrs.lower().replace(" ", "")
            if "max-age=0" in attrs or "expires=thu,01jan1970" in attrs:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = val.strip()

    def get(self, path, headers=None):
        """GET path."""
        return self.request("GET", path, headers)

    def head(self, path, headers=None):
        """HEAD path."""
        return self.request("HEAD", path, headers)

    def options(self, path, headers=None):
        """OPTIONS path."""
        return self.request("OPTIONS", path, headers)

    def post(self, path, headers=None, body=None, json=None, form=None):
        """POST to path."""
        return self.request("POST", path, headers, body, json, form)

    def put(self, path, headers=None, body=None, json=None, form=None):
        """PUT to path."""
        return self.request("PUT", path, headers, body, json, form)

    def patch(self, path, headers=None, body=None, json=None, form=None):
        """PATCH path."""
        return self.request("PATCH", path, headers, body, json, form)

    def delete(self, path, headers=None, body=None, json=None):
        """DELETE path."""
        return self.request("DELETE", path, headers, body, json)
