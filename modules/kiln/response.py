# Responses: what a handler returns becomes the (status, headers, body) tuple the C loop writes.
import json

from _kiln import header_ok

from kiln.text import partition

TEXT = "text/plain; charset=UTF-8"
HTML = "text/html; charset=UTF-8"
JSON = "application/json"
TEXT_HEADERS = (("Content-Type", TEXT),)
JSON_HEADERS = (("Content-Type", JSON),)

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp):
    """Format a Unix timestamp as an HTTP date (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    import time

    t = time.gmtime(int(timestamp))
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAYS[t[6]], t[2], _MONTHS[t[1] - 1], t[0], t[3], t[4], t[5])


def check_header(name, value):
    """Refuse a header the C loop would not write: a name that is not a token, a control
    character other than HTAB in the value (the parser's rules for incoming fields, in C)."""
    if not header_ok(name, value):
        raise ValueError("refused header %r: a bad name or a control character in the value" % name)


class NoCaseDict:
    """Headers: a mapping whose str keys compare case-insensitively and keep the case they were
    set with. Values are stored as str; a header `check_header` refuses raises ValueError."""

    def __init__(self, initial=None):
        self._d = {}  # lower-case name -> (name, value)
        if initial:
            self.update(initial)

    def __setitem__(self, key, value):
        if type(value) is not str:
            value = str(value)
        check_header(key, value)
        self._d[key.lower()] = (key, value)

    def __getitem__(self, key):
        return self._d[key.lower()][1]

    def __delitem__(self, key):
        del self._d[key.lower()]

    def __contains__(self, key):
        return key.lower() in self._d

    def __len__(self):
        return len(self._d)

    def __iter__(self):
        return iter(self.keys())

    def get(self, key, default=None):
        item = self._d.get(key.lower())
        return default if item is None else item[1]

    def pop(self, key, *default):
        item = self._d.pop(key.lower(), None)
        if item is not None:
            return item[1]
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def keys(self):
        return [item[0] for item in self._d.values()]

    def values(self):
        return [item[1] for item in self._d.values()]

    def items(self):
        return list(self._d.values())

    def update(self, other):
        for k, v in other.items() if hasattr(other, "items") else other:
            self[k] = v


_type = type
_dict = dict
_list = list


class HTTPException(Exception):
    """Raised by ``abort()``; the app turns it into an error response."""

    def __init__(self, status_code, reason=None):
        super().__init__(status_code, reason)
        self.status_code = status_code
        self.reason = reason


def abort(status_code, reason=None):
    """Stop handling the request and answer with ``status_code`` (and ``reason`` as body)."""
    raise HTTPException(status_code, reason)


class Response:
    """An HTTP response.

    ``body`` may be str, bytes, a dict or list (sent as JSON), a file object (streamed), or a
    sync or async generator of chunks (streamed with chunked encoding). ``headers`` is a dict;
    ``response.headers`` is case-insensitive. Set-Cookie headers come from ``set_cookie``."""

    default_content_type = TEXT
    #: Every instance sets its own; the default lets the App make a 200 with one store.
    status_code = 200
    reason = None
    cookies = None
    #: FileResponse settles conditional requests and ranges here before the response is sent;
    #: a class that sets it also answers _answer(req): the tuple at once when nothing runs after
    #: the view, or None.
    prepare = None
    _headers = None

    def __init__(self, body="", status_code=200, headers=None, reason=None):
        self.status_code = status_code
        if headers:
            self._headers = NoCaseDict(headers)
        if reason is not None:
            self.reason = reason
        t = _type(body)
        if t is _dict or t is _list:
            body = self._json(body)
        elif body is None:
            body = ""
            if status_code == 200:
                self.status_code = 204
        self.body = body

    @property
    def headers(self):
        """The response headers (case-insensitive)."""
        h = self._headers
        if h is None:
            h = self._headers = NoCaseDict()
        return h

    @headers.setter
    def headers(self, value):
        self._headers = value if type(value) is NoCaseDict else NoCaseDict(value)

    def _json(self, value):
        if "Content-Type" not in self.headers:
            self.headers["Content-Type"] = JSON
        return json.dumps(value)

    def set_cookie(self, cookie, value, path=None, domain=None, expires=None, max_age=None,
                   secure=False, http_only=False, partitioned=False, same_site=None):
        """Add a Set-Cookie header. ``expires`` is a timestamp or an HTTP date string;
        ``same_site`` is 'Strict', 'Lax' or 'None'."""
        value = str(value)
        for c in ";,\r\n\0 \"":
            if c in cookie or (c in value and c != " "):
                raise ValueError("cookie %r: name or value has a forbidden character" % cookie)
        for attr in (path, domain, same_site):
            if attr and (";" in attr or "," in attr):
                raise ValueError("cookie %r: an attribute has a forbidden character" % cookie)
        out = cookie + "=" + value
        if path:
            out += "; Path=" + path
        if domain:
            out += "; Domain=" + domain
        if expires is not None:
            out += "; Expires=" + (expires if type(expires) is str else http_date(expires))
        if max_age is not None:
            out += "; Max-Age=%d" % max_age
        if secure:
            out += "; Secure"
        if http_only:
            out += "; HttpOnly"
        if same_site:
            out += "; SameSite=" + same_site
        if partitioned:
            out += "; Partitioned"
        check_header("Set-Cookie", out)
        if self.cookies is None:
            self.cookies = []
        self.cookies.append(out)

    def delete_cookie(self, cookie, path=None, domain=None):
        """Ask the client to forget a cookie (empty value, expired)."""
        self.set_cookie(cookie, "", path=path, domain=domain, expires="Thu, 01 Jan 1970 00:00:01 GMT",
                        max_age=0)

    def to_tuple(self):
        """The (status, headers, body) tuple for the C loop."""
        h = self._headers
        if h is None or not h._d:  # headers are a NoCaseDict: the setter makes sure
            if self.cookies is None and self.default_content_type is TEXT:
                return (self.status_code, TEXT_HEADERS, self.body)
            h = NoCaseDict()
        return (self.status_code, self._header_list(h._d), self.body)

    def _header_list(self, d):
        out = list(d.values())
        if "content-type" not in d:
            out.append(("Content-Type", self.default_content_type))
        if self.cookies is not None:
            out += [("Set-Cookie", c) for c in self.cookies]
        return out

    @classmethod
    def redirect(cls, location, status_code=302):
        """A redirect response; a location with CR or LF is refused (ValueError)."""
        return redirect(location, status_code)

    @classmethod
    def send_file(cls, filename, status_code=200, content_type=None, max_age=None, **kwargs):
        """See ``kiln.send_file``."""
        from kiln.static import send_file

        return send_file(filename, status_code=status_code, content_type=content_type,
                         max_age=max_age, **kwargs)


def slash_location(target):
    """The request target (raw, as sent) with '/' added to its path, query kept: the Location
    of a trailing-slash redirect. An absolute-form target (``http://host/path``) gives its path.
    Leading slashes and backslashes fold into one '/', so it cannot become a scheme-relative
    '//host' or '/\\host'."""
    if target[:1] != "/":
        start = target.find("://")
        start = start + 3 if start >= 0 else 0
        cut = len(target)
        for c in "/?":
            i = target.find(c, start)
            if 0 <= i < cut:
                cut = i
        target = target[cut:]
    path, sep, query = partition(target, "?")
    path = path.lstrip("/\\")
    return "/" + (path + "/" if path else "") + sep + query


def redirect(location, status_code=302):
    """Return a redirect Response to ``location``; CR, LF or NUL in it raise ValueError."""
    check_header("Location", location)
    return Response("", status_code, {"Location": location})
