# The request handlers get: an instance of an App's subclass of Request, made by the C loop (or
# the Parser) with the parsed head as its `_kiln.Request` part (method, path, headers, body...
# read straight from the receive buffer). This class adds the methods, the class attributes and
# the attributes below that are computed on first access (__getattr__) and then kept on it.
import json

from _kiln import Request as ParsedRequest
from _kiln import parse_qs

from kiln.response import HTTPException
from kiln.text import partition


def media_type(content_type):
    """The media type of a Content-Type value, lower-case, without parameters or spaces
    (``"Text/HTML; charset=UTF-8"`` -> ``"text/html"``); "" for None. Media types are
    case-insensitive (RFC 9110 8.3.1): compare what this returns."""
    return content_type.split(";", 1)[0].strip().lower() if content_type else ""


class MultiDict(dict):
    """A dict that keeps every value of repeated keys: ``d[k]`` and ``get`` give the first,
    ``getlist(k)`` gives all of them in order."""

    def __init__(self, pairs=None):
        super().__init__()
        self._more = None
        if pairs:
            for k, v in pairs:
                self.add(k, v)

    def add(self, key, value):
        """Append a value for key."""
        if key in self:
            if self._more is None:
                self._more = {}
            self._more.setdefault(key, []).append(value)
        else:
            super().__setitem__(key, value)

    def get(self, key, default=None, type=None):
        """The first value of key (converted by ``type``; a ValueError gives default)."""
        if key not in self:
            return default
        value = super().get(key)
        if type is not None:
            try:
                value = type(value)
            except ValueError:
                return default
        return value

    def getlist(self, key, type=None):
        """Every value of key, in order (converted by ``type``; values it refuses are dropped)."""
        if key not in self:
            return []
        values = [super().get(key)]
        if self._more is not None and key in self._more:
            values += self._more[key]
        if type is None:
            return values
        out = []
        for v in values:
            try:
                out.append(type(v))
            except ValueError:
                pass
        return out

    def to_dict(self, flat=True):
        """A plain dict: the first value of each key, or (``flat=False``) the list of all of
        them. (MicroPython's ``dict(multidict)`` cannot copy a dict subclass.)"""
        if flat:
            return {k: super(MultiDict, self).get(k) for k in self}
        return {k: self.getlist(k) for k in self}


class G:
    """Per-request storage: set any attribute."""


def refuse(status, reason, req=None):
    """Print one console line about bad input and raise the HTTP error."""
    where = ""
    if req is not None:
        path = "".join(c if " " <= c else "?" for c in req.path)
        where = " (%s %s)" % (req.method, path)
    print("Kiln: %d %s%s" % (status, reason, where))
    raise HTTPException(status, reason)


def parse_cookies(header):
    cookies = {}
    for item in header.split(";"):
        name, sep, value = partition(item, "=")
        name = name.strip()
        if sep and name and name not in cookies:
            value = value.strip()
            if len(value) > 1 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
    return cookies


def _cookies(req):
    header = req.headers.get("Cookie")
    return {} if header is None else parse_cookies(header)


def _args(req):
    qs = req.query_string
    return MultiDict(parse_qs(qs) if qs else None)


def _form(req):
    req._parse_form()
    return req.form


def _files(req):
    req._parse_form()
    return req.files


_bare = object.__new__
_setattr = setattr

_LAZY = {
    "url": lambda req: req.target,
    "args": _args,
    "cookies": _cookies,
    "subapp": lambda req: None,
    "content_type": lambda req: req.headers.get("Content-Type"),
    "json": lambda req: req._json(),
    "form": _form,
    "files": _files,
}


class Request(ParsedRequest):
    """An HTTP request, as handlers see it.

    ``app``, ``method``, ``path``, ``url_args`` (the route's arguments), and, computed on first
    use: ``headers`` (case-insensitive), ``args`` (MultiDict of the query string), ``query_string``,
    ``url`` (raw target), ``http_version``, ``cookies`` (dict), ``content_type``,
    ``content_length``, ``body`` (bytes), ``stream`` (when the body was left unread), ``json``,
    ``form`` (MultiDict, urlencoded or multipart; None for other bodies), ``files`` (MultiDict of
    ``FileUpload``), ``client_addr``, ``g`` (per-request storage).

    The object a handler gets is an instance of the app's subclass of this class (made by the
    server without calling ``__init__``), so ``isinstance(request, Request)`` holds and class
    attributes set here apply to it."""

    #: Largest body accepted (bytes); a larger one is answered with 413. ``App.run`` passes it
    #: to the C loop (``max_body``).
    max_content_length = 16 * 1024
    #: Bodies up to this size arrive in ``body``; larger ones are left to ``stream`` (``body``
    #: is None) and read with ``await request.stream.read(n)`` or ``await request.read_form()``.
    max_body_length = 16 * 1024
    #: Most fields plus files a form may carry; more is answered with 413.
    max_form_parts = 32
    #: Uploaded files larger than this are spooled to a file in ``upload_dir``.
    max_file_memory = 4096
    #: Where large uploads are spooled; None: /tmp where it exists (unix), else the
    #: filesystem's root (a device's flash).
    upload_dir = None

    url_args = None
    _after = None
    _owned = None
    _session = None  # kiln.session keeps the request's SessionDict here
    # An App's subclass sets ``app`` to the app.
    app = None

    def __getattr__(self, name):
        # Computed once, then kept on the request.
        if name == "g":
            g = self.g = _bare(G)
            return g
        make = _LAZY.get(name)
        if make is None:
            raise AttributeError(name)
        value = make(self)
        _setattr(self, name, value)
        return value

    def _json(self):
        if not media_type(self.content_type).endswith("json"):
            return None
        body = self.body
        if body is None:
            refuse(413, "JSON body too large to hold in memory", self)
        try:
            return json.loads(body)
        except ValueError:
            refuse(400, "malformed JSON body", self)

    def _parse_form(self):
        ct = self.content_type
        kind = media_type(ct)
        self.form = None
        self.files = None
        if kind == "application/x-www-form-urlencoded":
            body = self.body
            if body is None:
                refuse(413, "form body too large to hold in memory", self)
            try:
                pairs = parse_qs(body.decode())
            except (UnicodeError, ValueError):
                refuse(400, "malformed form body", self)
            if len(pairs) > self.max_form_parts:
                refuse(413, "too many form fields", self)
            self.form = MultiDict(pairs)
            self.files = MultiDict()
        elif kind == "multipart/form-data":
            if self.body is None:
                raise RuntimeError("multipart body is streamed: await request.read_form() first")
            from kiln.multipart import parse_body

            self.form, self.files = parse_body(self, ct, self.body)

    async def read_form(self, file_sink=None):
        """Read a form body (also a streamed multipart body) into ``form`` and ``files``.

        ``file_sink(name, filename, content_type, headers)`` may return an object with
        ``write(bytes)`` and ``close()`` that receives each uploaded file chunk by chunk, instead
        of the default ``kiln.multipart.FileUpload`` (kept in memory up to ``max_file_memory``,
        then spooled to ``upload_dir``)."""
        ct = self.content_type
        if media_type(ct) == "multipart/form-data":
            from kiln.multipart import read_stream

            self.form, self.files = await read_stream(self, ct, file_sink)
            return self.form
        self._parse_form()
        return self.form

    def own(self, obj):
        """Call ``obj.discard()`` once this request is answered, by its view or by an error
        (spooled uploads are removed this way)."""
        if self._owned is None:
            self._owned = []
        self._owned.append(obj)

    def after_request(self, f):
        """Register ``f(request, response)`` to run after this request's handler only, after the
        app's after_request hooks (a coroutine function is awaited, from a sync view too)."""
        if self._after is None:
            self._after = []
        self._after.append(f)
        return f
