# An async HTTP/1.1 client on MicroPython's asyncio streams, for an app that posts readings to an
# API or calls a webhook.
#
# Why not micropython-lib's aiohttp (frozen in the unix firmware): at the v1.25.0 pin it has no
# timeouts, connects to https:// with an SSLContext that verifies nothing, follows only 301-303
# and at most twice (keeping a POST's method and body on 303, ignoring 307/308, taking a
# relative Location as the whole URL), spots Transfer-Encoding and Location only in that case,
# reads the head with unbounded readline(), reads a body without Content-Length whole into RAM
# for text()/json() and asserts on a malformed chunk. Wrapping it would mean replacing each of
# those paths, so this is a small client of its own. requests (also frozen) blocks the event
# loop, so an app that serves pages cannot use it.
#
# The response head is parsed here, in Python: _kiln's C parser reads requests only, and a
# response mode would need a Python binding in _kiln as well, all for a head parsed once per
# response, whose time is the network's.
import asyncio
import json as _json
from errno import EINPROGRESS as _EINPROGRESS

from kiln.text import partition


class ClientError(Exception):
    """A response that breaks HTTP (a malformed or oversized head, a bad chunk, a body cut
    short), a URL the client cannot use, too many redirects, or an ``https://`` URL without a
    usable ``ssl=``. Network errors (refused, reset, unknown host) stay ``OSError``; a
    certificate that fails verification raises what the port's ``ssl`` raises (``OSError`` or
    ``ValueError``)."""


class TimeoutError(ClientError):  # noqa: A001 (kiln.client.TimeoutError, documented)
    """Connecting, sending the request, or one read of the response took longer than
    ``timeout`` seconds. The connection is closed."""


_REDIRECTS = (301, 302, 303, 307, 308)


async def _within(aw, timeout, what):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError("%s: no answer within %s s" % (what, timeout)) from None


def _split_url(url):
    # -> (https, host, port, target)
    scheme, sep, rest = partition(url, "://")
    if not sep or scheme not in ("http", "https"):
        raise ClientError("not an http:// or https:// URL: %r" % url)
    rest = partition(rest, "#")[0]
    i = 0
    while i < len(rest) and rest[i] not in "/?":
        i += 1
    authority, target = rest[:i], rest[i:]
    if not target or target[0] == "?":
        target = "/" + target
    https = scheme == "https"
    host, sep, port = partition(authority, ":")
    if not host or (sep and not port.isdigit()):
        raise ClientError("bad host in URL: %r" % url)
    return https, host, int(port) if sep else (443 if https else 80), target


def _resolve(base, location):
    # The URL a Location header points to, resolved against the URL that answered.
    if "://" in location[:10]:
        return location
    scheme, _, rest = partition(base, "://")
    if location[:2] == "//":
        return scheme + ":" + location
    i = 0
    while i < len(rest) and rest[i] not in "/?#":
        i += 1
    origin, path = scheme + "://" + rest[:i], rest[i:]
    if location[:1] == "/":
        return origin + location
    path = partition(partition(path, "?")[0], "#")[0]
    if location[:1] == "?":
        return origin + (path or "/") + location
    return origin + path[:path.rfind("/") + 1] + (location if path else "/" + location)


class Headers:
    """The response's header fields, looked up by name in any case (``resp.headers["content-type"]``
    and ``resp.headers["Content-Type"]`` are the same field). A field sent more than once holds
    its values joined by ``", "``. Iterating gives the names in lower case."""

    def __init__(self):
        self._fields = {}

    def __getitem__(self, name):
        return self._fields[name.lower()]

    def get(self, name, default=None):
        return self._fields.get(name.lower(), default)

    def __contains__(self, name):
        return name.lower() in self._fields

    def __iter__(self):
        return iter(self._fields)

    def __len__(self):
        return len(self._fields)

    def items(self):
        return self._fields.items()

    def __repr__(self):
        return "Headers(%r)" % self._fields

    def _add(self, name, value):
        old = self._fields.get(name)
        self._fields[name] = value if old is None else old + ", " + value


class Response:
    """An answer from :func:`request`: ``status`` (int), ``reason`` (str), ``headers``
    (:class:`Headers`), ``url`` (the URL that answered, after redirects). The body is not read
    until asked: ``await resp.read()`` (all of it), ``await resp.read(n)`` (up to ``n`` bytes,
    ``b""`` at the end), ``async for chunk in resp.iter_chunked(n)``, ``await resp.text()``,
    ``await resp.json()``. Chunked bodies come decoded. The connection closes once the body has
    been read, or on ``await resp.close()`` (``async with`` does it too)."""

    # Bytes of the status line and header fields together; a longer head is refused.
    max_head = 4096
    # Bytes read from the socket at a time.
    read_size = 1024
    # Bytes of a chunk-size line or a trailer field (chunk extensions included).
    max_chunk_line = 256

    def __init__(self, stream, url, timeout, raw=None):
        self.url = url
        self.status = 0
        self.reason = ""
        self.headers = Headers()
        self._stream = stream
        self._raw = raw  # under a TLS stream, the socket reads wait on (see _connect)
        self._timeout = timeout
        self._buf = b""
        self._left = 0  # body bytes left: -1 until close, -2 chunked, 0 done
        self._piece = 1024  # iter_chunked's size (async for over the response itself)

    async def _more(self):
        # Read what the socket has into _buf; False at end of stream.
        try:
            if self._raw is None:
                data = await _within(self._stream.read(self.read_size), self._timeout, "read")
            else:
                # read first; wait on the socket only when nothing is decrypted already
                while True:
                    data = self._stream.s.read(self.read_size)
                    if data is not None:
                        break
                    await _within(_readable(self._raw), self._timeout, "read")
        except TimeoutError:
            await self.close()
            raise
        if not data:
            return False
        self._buf = self._buf + data if self._buf else data
        return True

    async def _line(self, limit, what):
        while True:
            end = self._buf.find(b"\r\n")
            if 0 <= end <= limit:
                line, self._buf = self._buf[:end], self._buf[end + 2:]
                return line
            if end > limit or len(self._buf) > limit + 1:
                raise ClientError("bad " + what)
            if not await self._more():
                raise ClientError("connection closed inside a chunked body")

    async def _read_head(self, method):
        # Status line and header fields, up to a blank line; skips interim 1xx answers.
        while True:
            while True:
                end = self._buf.find(b"\r\n\r\n")
                if 0 <= end <= self.max_head:
                    break
                if end > self.max_head or len(self._buf) > self.max_head + 3:
                    raise ClientError("response head longer than %d bytes" % self.max_head)
                if not await self._more():
                    raise ClientError("connection closed before a complete response head")
            head, self._buf = self._buf[:end], self._buf[end + 4:]
            self._parse_head(head)
            if self.status >= 200 or self.status == 101:
                break
            self.headers = Headers()
        h = self.headers
        if method == "HEAD" or self.status in (204, 304) or self.status < 200:
            self._left = 0
        elif "chunked" in h.get("transfer-encoding", "").lower():
            self._left = -2
            self._chunk = 0
        elif "content-length" in h:
            length = h["content-length"]
            if not length.isdigit():  # also refuses "5, 6": two different lengths
                raise ClientError("bad Content-Length: %r" % length)
            self._left = int(length)
        else:
            self._left = -1
        if not self._left:
            await self.close()

    def _parse_head(self, head):
        try:
            lines = head.decode().split("\r\n")
        except UnicodeError:
            raise ClientError("response head is not text") from None
        version, _, rest = partition(lines[0], " ")
        status, _, reason = partition(rest, " ")
        if version[:7] != "HTTP/1." or len(status) != 3 or not status.isdigit():
            raise ClientError("bad status line: %r" % lines[0][:80])
        self.status = int(status)
        self.reason = reason
        for line in lines[1:]:
            name, sep, value = partition(line, ":")
            if not sep or not name or " " in name or "\t" in name or "\n" in line or "\r" in line:
                raise ClientError("bad header field: %r" % line[:80])
            self.headers._add(name.lower(), value.strip())

    async def read(self, n=-1):
        """Up to ``n`` bytes of the body (all of what is left if ``n`` is -1); ``b""`` once it
        has all been read."""
        if n < 0:
            parts = []
            while True:
                part = await self.read(self.read_size)
                if not part:
                    return b"".join(parts)
                parts.append(part)
        try:
            return await self._read_some(n)
        except ClientError:  # a malformed or cut body: the connection is of no further use
            await self.close()
            raise

    async def _read_some(self, n):
        while self._left == -2 and not self._chunk:
            await self._next_chunk()
        if not self._left or not n:
            return b""
        if not self._buf and not await self._more():
            if self._left == -1:
                await self.close()
                return b""
            raise ClientError("connection closed inside the body")
        want = n
        if self._left == -2:
            want = min(n, self._chunk)
        elif self._left > 0:
            want = min(n, self._left)
        data, self._buf = self._buf[:want], self._buf[want:]
        if self._left == -2:
            self._chunk -= len(data)
            if not self._chunk:
                await self._line(0, "end of chunk")
        elif self._left > 0:
            self._left -= len(data)
            if not self._left:
                await self.close()
        return data

    async def _next_chunk(self):
        line = partition(await self._line(self.max_chunk_line, "chunk size line"), b";")[0]
        size = line.strip()
        # hex digits only (int() would also take "0x", "+" and "_"), at most 4 GB
        if not size or len(size) > 8 or size.strip(b"0123456789abcdefABCDEF"):
            raise ClientError("bad chunk size: %r" % line[:20])
        self._chunk = int(size, 16)
        if not self._chunk:
            while await self._line(self.max_chunk_line, "trailer field"):
                pass
            self._left = 0
            await self.close()

    def iter_chunked(self, n):
        """``async for data in resp.iter_chunked(n)``: the body in pieces of at most ``n``
        bytes, without holding more than one piece."""
        self._piece = n
        return self

    def __aiter__(self):
        return self

    async def __anext__(self):
        data = await self.read(self._piece)
        if not data:
            raise StopAsyncIteration
        return data

    async def text(self, encoding="utf-8"):
        """The whole body, decoded."""
        return (await self.read()).decode(encoding)

    async def json(self):
        """The whole body, parsed as JSON."""
        return _json.loads(await self.read())

    async def close(self):
        """Close the connection; the rest of the body is not read."""
        if self._stream:
            stream, self._stream, self._left = self._stream, None, 0
            await _close(stream, self._raw)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.url)


def _ssl_module():
    import ssl

    return ssl


def _unverified():
    ssl = _ssl_module()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _close(stream, raw=None):
    # asyncio's Stream.close() does nothing: wait_closed() closes the socket
    stream.close()
    try:
        await stream.wait_closed()
    except OSError:
        pass
    if raw is not None:
        # a TLS stream whose handshake failed lets go of its socket without closing it
        raw.close()


def _readable(sock):
    yield asyncio.core._io_queue.queue_read(sock)


def _writable(sock):
    # What asyncio.open_connection waits on, with asyncio's own IO queue (Stream does the same)
    yield asyncio.core._io_queue.queue_write(sock)


async def _connect(host, port, ctx, timeout):
    # asyncio.open_connection, except that a connection that times out is closed here: the
    # unix port's sockets have no finaliser, so one left to the GC would keep its descriptor.
    # The name is looked up with the port's blocking getaddrinfo, as there.
    import socket

    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(ai[0], ai[1], ai[2])
    try:
        sock.setblocking(False)
        try:
            sock.connect(ai[-1])
        except OSError as e:
            if e.errno != _EINPROGRESS:
                raise
        raw = sock
        if ctx:
            sock = ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            sock.setblocking(False)
        await _within(_writable(sock), timeout, "connect to %s:%d" % (host, port))
    except BaseException:
        sock.close()
        raise
    # Under TLS, reads wait on the socket: on unix select finds no file descriptor in a TLS
    # stream and asyncio would poll it every millisecond.
    return asyncio.StreamWriter(sock, {}), (raw if ctx else None)


def _unsafe(text):
    # a header (name, value) with CR or LF, or a URL target with those or a space, would end the
    # line early and let the rest pose as another header or request
    if type(text) is tuple:
        return _unsafe(text[0]) or "\r" in str(text[1]) or "\n" in str(text[1])
    return " " in text or "\r" in text or "\n" in text or "\t" in text


async def _send(method, url, body, headers, timeout, ssl, verify):
    https, host, port, target = _split_url(url)
    if https:
        if ssl is None:
            if verify:
                raise ClientError("https:// needs ssl=: a context that verifies the server"
                                  " (kiln.tls.client_context(ca)), or verify=False")
            ssl = _unverified()
        elif verify and ssl.verify_mode != _ssl_module().CERT_REQUIRED:
            raise ClientError("ssl= does not verify the server (verify_mode is not"
                              " CERT_REQUIRED): set it, or pass verify=False")
    else:
        ssl = None
    for text in [target] + list(headers.items()):
        if _unsafe(text):
            raise ClientError("control character or space in the request: %r" % (text,))
    stream, raw = await _connect(host, port, ssl, timeout)
    try:
        std = port == (443 if https else 80)
        lines = ["%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                 % (method, target, host if std else "%s:%d" % (host, port))]
        names = ""
        for name, value in headers.items():
            names += name.lower() + " "
            lines.append("%s: %s\r\n" % (name, value))
        if body is not None and "content-length " not in names:
            lines.append("Content-Length: %d\r\n" % len(body))
        lines.append("\r\n")
        stream.write("".join(lines).encode())
        if body:
            stream.write(body)
        await _within(stream.drain(), timeout, "send to %s:%d" % (host, port))
        resp = Response(stream, url, timeout, raw)
        await resp._read_head(method)
        return resp
    except BaseException:
        await _close(stream, raw)
        raise


async def request(method, url, json=None, data=None, headers=None, timeout=10, max_redirects=5,
                  ssl=None, verify=True):
    """Send an HTTP/1.1 request and return its :class:`Response` once the head has arrived.

    ``json`` (any JSON-encodable value, sent as ``application/json``) or ``data`` (bytes or
    str) is the body; ``headers`` a dict added to ``Host``, ``Connection: close`` and
    ``Content-Length``. ``timeout`` (seconds) bounds connecting, sending, and each read of the
    response: :class:`TimeoutError` past it. Redirects (301, 302, 303, 307, 308) are followed up
    to ``max_redirects``: 303, and 301/302 after a POST, turn into a GET without a body; 307 and
    308 repeat the method and body; ``Authorization`` and ``Cookie`` are not sent to another
    host, port or scheme. One more redirect raises :class:`ClientError`; ``max_redirects=0`` returns the 3xx
    response instead of following it.

    ``https://`` needs ``ssl=``, an ``ssl.SSLContext`` whose ``verify_mode`` is
    ``CERT_REQUIRED`` (``kiln.tls.client_context(ca)`` makes one), so the server's certificate
    and name are checked. Only ``verify=False`` connects without checking (with ``ssl=`` left
    out, or any context)."""
    headers = dict(headers) if headers else {}
    body = data
    if json is not None:
        body = _json.dumps(json)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode()
    redirects = 0
    while True:
        resp = await _send(method, url, body, headers, timeout, ssl, verify)
        location = resp.headers.get("location")
        if resp.status not in _REDIRECTS or not location or not max_redirects:
            return resp
        await resp.close()
        redirects += 1
        if redirects > max_redirects:
            raise ClientError("more than %d redirects (last to %s)" % (max_redirects, location))
        new = _resolve(url, location)
        if _split_url(new)[:3] != _split_url(url)[:3]:  # another scheme, host or port
            headers = {k: v for k, v in headers.items()
                       if k.lower() not in ("authorization", "cookie")}
        url = new
        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
            if method != "HEAD":
                method = "GET"
            body = None
            headers = {k: v for k, v in headers.items()
                       if k.lower() not in ("content-type", "content-length")}


async def get(url, **kw):
    """``request("GET", url, ...)``."""
    return await request("GET", url, **kw)


async def post(url, **kw):
    """``request("POST", url, ...)``."""
    return await request("POST", url, **kw)


async def put(url, **kw):
    """``request("PUT", url, ...)``."""
    return await request("PUT", url, **kw)


async def delete(url, **kw):
    """``request("DELETE", url, ...)``."""
    return await request("DELETE", url, **kw)
