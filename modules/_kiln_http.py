# The pure-Python `_kiln`, part one (see _kiln.py): the HTTP/1.1 request parser
# (kiln_http.c), the request binding (kiln_request.c) and the module's functions. It trades speed
# for size and plainness: each feed re-parses the head from its first byte, and responses are
# built as bytes in Python.

version_str = "0.1.0"
MAX_CONNECTIONS = 0

_MAX_REQUEST_LINE = 2048
_MAX_HEADER_LINE = 2048
_MAX_HEAD = 4096
_MAX_HEADERS = 32
_MAX_BODY = 64 * 1024
_RECV_BUFFER = 512
_SEND_BUFFER = 1024
_BODY_IN_MEMORY = 16 * 1024
BODY_IN_MEMORY = _BODY_IN_MEMORY  # kiln_server.h KILN_BODY_IN_MEMORY

_INCOMPLETE = -1

_REASONS = {
    100: "Continue", 101: "Switching Protocols",
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict",
    410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
    417: "Expectation Failed", 422: "Unprocessable Content", 426: "Upgrade Required",
    429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}


def version():
    return version_str


def reason(status):
    return _REASONS.get(status, "")


# Character classes, as kiln_http.c's char_class: token, field value, request-target, hex digit,
# Host value character.
_TOK = 1
_VAL = 2
_TGT = 4
_HEX = 8
_HOST = 16
_CLASS = bytes(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    + [0] * 16
    + [2, 23, 6, 3, 23, 23, 23, 23, 22, 22, 23, 23, 6, 23, 23, 6]
    + [31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 22, 22, 6, 22, 6, 6]
    + [6, 31, 31, 31, 31, 31, 31, 23, 23, 23, 23, 23, 23, 23, 23, 23]
    + [23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 22, 6, 22, 7, 23]
    + [7, 31, 31, 31, 31, 31, 31, 23, 23, 23, 23, 23, 23, 23, 23, 23]
    + [23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 6, 7, 6, 23, 0]
    + [2] * 128
)

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
_ALLOW_CUSTOM = 1
_ALLOW_CONNECT = 2
_ALLOW_TRACE = 4
_ALLOW_BARE_LF = 8

# Flags of a parsed head (kiln_http.h KILN_HTTP_F_*).
_F_KEEP_ALIVE = 1
_F_CONTENT_LENGTH = 2
_F_CHUNKED = 4
_F_EXPECT_CONTINUE = 8
_F_UPGRADE = 16
_F_QUERY = 32

# What the head's framing headers said (kiln_http.c's s_seen bits).
_SEEN_HOST = 1
_SEEN_CL = 2
_SEEN_TE = 4
_TE_CHUNKED_LAST = 8
_TE_OTHER = 16
_CONN_CLOSE = 32
_CONN_KEEP_ALIVE = 64
_CONN_UPGRADE = 128
_EXPECT_100 = 256

# Head parser states, in kiln_http.c's order (the range checks below depend on it).
_S_START = 0
_S_START_CR = 1
_S_METHOD = 2
_S_TARGET = 3
_S_VERSION = 4
_S_RL_CR = 5
_S_LINE = 6
_S_NAME = 7
_S_OWS = 8
_S_VALUE = 9
_S_VALUE_CR = 10
_S_END_CR = 11


class _Limits:
    def __init__(self, max_request_line, max_header_line, max_head, max_body, allow):
        self.max_request_line = max_request_line
        self.max_header_line = max_header_line
        self.max_head = max_head
        self.max_body = max_body
        self.allow = allow


_DEFAULT_LIMITS = _Limits(_MAX_REQUEST_LINE, _MAX_HEADER_LINE, _MAX_HEAD, _MAX_BODY, 0)


class _Head:
    # A parsed head: offsets into the request's bytes, as kiln_http_request_t.
    def __init__(self):
        self.method = None  # the name, or None for a custom token
        self.method_off = self.method_len = 0
        self.target_off = self.target_len = 0
        self.path_off = self.path_len = 0
        self.query_off = self.query_len = 0
        self.upgrade_off = self.upgrade_len = 0
        self.minor = 1
        self.flags = 0
        self.content_length = 0
        self.seen = 0
        self.headers = []  # (name_off, name_len, value_off, value_len)
        self.head_len = 0


def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def _eq(buf, off, n, lit):
    # buf[off:off + n] equals the lower-case bytes lit, ignoring the case of buf.
    if n != len(lit):
        return False
    for i in range(n):
        if _lower(buf[off + i]) != lit[i]:
            return False
    return True


def _header_semantics(h, buf, noff, nl, voff, vl):
    # kiln_http.c header_semantics: takes note of the framing headers; 0 or an error status.
    seen = h.seen
    if _eq(buf, noff, nl, b"host"):
        if seen & _SEEN_HOST:
            return 400
        for i in range(voff, voff + vl):
            if not _CLASS[buf[i]] & _HOST:
                return 400
        h.seen = seen | _SEEN_HOST
        return 0
    if _eq(buf, noff, nl, b"expect"):
        if _eq(buf, voff, vl, b"100-continue"):
            h.seen = seen | _EXPECT_100
        return 0
    if _eq(buf, noff, nl, b"upgrade"):
        if h.upgrade_off == 0:
            h.upgrade_off = voff
            h.upgrade_len = vl
        return 0
    if _eq(buf, noff, nl, b"content-length"):
        which = 1
        if vl == 0:
            return 400
    elif _eq(buf, noff, nl, b"transfer-encoding"):
        which = 2
        seen |= _SEEN_TE
    elif _eq(buf, noff, nl, b"connection"):
        which = 3
    else:
        return 0
    # The list headers: each comma-separated element, whitespace around it removed.
    end = voff + vl
    i = voff
    while i <= end:
        s = i
        while i < end and buf[i] != 44:  # ','
            i += 1
        e = i
        i += 1
        while s < e and buf[s] in (32, 9):
            s += 1
        while e > s and buf[e - 1] in (32, 9):
            e -= 1
        n = e - s
        if which == 1:
            if n == 0:
                return 400
            length = 0
            for k in range(s, e):
                d = buf[k] - 48
                if d < 0 or d > 9 or length > 429496729 or (length == 429496729 and d > 5):
                    return 400
                length = length * 10 + d
            if seen & _SEEN_CL and length != h.content_length:
                return 400
            seen |= _SEEN_CL
            h.content_length = length
        elif n == 0:
            continue
        elif which == 2:
            if seen & _TE_CHUNKED_LAST:
                return 400
            seen |= _TE_CHUNKED_LAST if _eq(buf, s, n, b"chunked") else _TE_OTHER
        elif _eq(buf, s, n, b"close"):
            seen |= _CONN_CLOSE
        elif _eq(buf, s, n, b"keep-alive"):
            seen |= _CONN_KEEP_ALIVE
        elif _eq(buf, s, n, b"upgrade"):
            seen |= _CONN_UPGRADE
    h.seen = seen
    return 0


def _classify_target(h, buf):
    # kiln_http.c classify_target: splits the target into path and query; 0 or 400.
    off = h.target_off
    n = h.target_len
    m = h.method
    if m == "CONNECT" or (n == 1 and buf[off] == 42):  # '*'
        t = bytes(buf[off:off + n])
        if m == "CONNECT":
            if b"/" in t or b"@" in t or b":" not in t:
                return 400
        elif m != "OPTIONS":
            return 400
        h.path_off = off
        h.path_len = n
        return 0
    path = 0
    if buf[off] != 47:  # '/': absolute-form, the scheme checked loosely
        while path < n and _CLASS[buf[off + path]] & _TOK:
            path += 1
        c = _lower(buf[off])
        if not (97 <= c <= 122) or n - path < 3 or bytes(buf[off + path:off + path + 3]) != b"://":
            return 400
        path += 3
        while path < n and buf[off + path] not in (47, 63):
            path += 1
    q = path
    while q < n and buf[off + q] != 63:  # '?'
        q += 1
    h.path_off = off + path
    h.path_len = q - path
    if q < n:
        h.flags |= _F_QUERY
        h.query_off = off + q + 1
        h.query_len = n - q - 1
    return 0


def _request_line_done(h, buf, lim):
    v = h.target_off + h.target_len + 1
    if buf[v + 5] != 49:  # '1'
        return 505
    h.minor = 0 if buf[v + 7] == 48 else 1
    m = h.method
    need = _ALLOW_CUSTOM if m is None else _ALLOW_CONNECT if m == "CONNECT" else _ALLOW_TRACE if m == "TRACE" else 0
    if need & ~lim.allow:
        return 501
    return _classify_target(h, buf)


def _head_done(h, lim):
    seen = h.seen
    flags = h.flags
    http11 = h.minor
    if seen & _SEEN_TE:
        if not http11 or seen & _SEEN_CL or not seen & _TE_CHUNKED_LAST:
            return 400
        if seen & _TE_OTHER:
            return 501
        flags |= _F_CHUNKED
    if seen & _SEEN_CL:
        if h.content_length > lim.max_body:
            return 413
        flags |= _F_CONTENT_LENGTH
    if http11:
        if not seen & _SEEN_HOST:
            return 400
        if not seen & _CONN_CLOSE:
            flags |= _F_KEEP_ALIVE
        if seen & _EXPECT_100:
            flags |= _F_EXPECT_CONTINUE
        if seen & _CONN_UPGRADE and h.upgrade_off:
            flags |= _F_UPGRADE
    elif seen & (_CONN_KEEP_ALIVE | _CONN_CLOSE) == _CONN_KEEP_ALIVE:
        flags |= _F_KEEP_ALIVE
    if not flags & _F_UPGRADE:
        h.upgrade_off = h.upgrade_len = 0
    h.flags = flags
    return 0


def _parse_head(buf, n, max_headers, lim):
    # kiln_http_parse_request over buf[0:n], from its first byte: (head length, head),
    # (_INCOMPLETE, None) or (-status, None).
    h = _Head()
    end = n if n < lim.max_head else lim.max_head
    p = line = mark = 0
    state = _S_START
    bare_lf = False  # a bare LF ended a line: judged once the head is complete
    while True:
        if state == _S_START:
            while p < end and buf[p] == 10:
                bare_lf = True
                p += 1
            if p == end:
                break
            if buf[p] == 13:
                p += 1
                state = _S_START_CR
                continue
            line = p
            h.method_off = p
            state = _S_METHOD
        if state == _S_METHOD:
            while p < end and _CLASS[buf[p]] & _TOK:
                p += 1
            if p == end:
                break
            if buf[p] != 32 or p == line:
                return -400, None
            h.method_len = p - line
            name = bytes(buf[line:p]).decode()
            h.method = name if name in METHODS else None
            p += 1
            h.target_off = p
            state = _S_TARGET
        if state == _S_TARGET:
            while p < end and _CLASS[buf[p]] & _TGT:
                p += 1
            if p == end:
                break
            if buf[p] != 32 or p == h.target_off:
                return -400, None
            h.target_len = p - h.target_off
            p += 1
            state = _S_VERSION
        if state == _S_VERSION:
            # "HTTP/d.d" then CR or LF; each byte is checked as soon as it arrives.
            c = 0
            for k in range(9):
                if p + k == end:
                    break
                c = buf[p + k]
                want = b"HTTP/0.0\n"[k]
                if want == 48:
                    bad = not 48 <= c <= 57
                elif want == 10:
                    bad = c != 13 and c != 10
                else:
                    bad = c != want
                if bad:
                    return -400, None
            else:
                k = 9
            if k < 9:
                break
            p += 8
            if p - line > lim.max_request_line:
                return -414, None
            p += 1
            if c == 13:
                state = _S_RL_CR
                continue
            bare_lf = True
            state = -1  # the request line ends
        if state == _S_RL_CR:
            if p == end:
                break
            if buf[p] != 10:
                return -400, None
            p += 1
            state = -1
        if state == -1:
            status = _request_line_done(h, buf, lim)
            if status:
                return -status, None
            line = p
            state = _S_LINE
        if state == _S_LINE:
            if p == end:
                break
            c = buf[p]
            if c == 13:
                p += 1
                state = _S_END_CR
                continue
            if c == 10:
                p += 1
                bare_lf = True
                state = -2  # the head ends
            elif not _CLASS[c] & _TOK:
                return -400, None
            else:
                state = _S_NAME
        if state == _S_NAME:
            while p < end and _CLASS[buf[p]] & _TOK:
                p += 1
            if p == end:
                break
            if buf[p] != 58:  # ':'
                return -400, None
            if len(h.headers) >= max_headers:
                return -431, None
            name_off = line
            name_len = p - line
            p += 1
            state = _S_OWS
        if state == _S_OWS:
            while p < end and buf[p] in (32, 9):
                p += 1
            if p == end:
                break
            mark = p
            state = _S_VALUE
        if state == _S_VALUE:
            while p < end and _CLASS[buf[p]] & _VAL:
                p += 1
            if p == end:
                break
            c = buf[p]
            if c != 13 and c != 10:
                return -400, None
            if p - line > lim.max_header_line:
                return -431, None
            vs = mark
            ve = p
            while ve > vs and buf[ve - 1] in (32, 9):
                ve -= 1
            h.headers.append((name_off, name_len, vs, ve - vs))
            status = _header_semantics(h, buf, name_off, name_len, vs, ve - vs)
            if status:
                return -status, None
            p += 1
            if c == 13:
                state = _S_VALUE_CR
                continue
            bare_lf = True
            line = p
            state = _S_LINE
            continue
        if state == _S_VALUE_CR:
            if p == end:
                break
            if buf[p] != 10:
                return -400, None
            p += 1
            line = p
            state = _S_LINE
            continue
        if state == _S_END_CR:
            if p == end:
                break
            if buf[p] != 10:
                return -400, None
            p += 1
            state = -2
        if state == _S_START_CR:
            if p == end:
                break
            if buf[p] != 10:
                return -400, None
            p += 1
            state = _S_START
            continue
        if state == -2:
            # refused unless allowed, and then too if the head has a CR (always part of a CRLF)
            if bare_lf and (not lim.allow & _ALLOW_BARE_LF or bytes(buf[:p]).find(b"\r") >= 0):
                return -400, None
            status = _head_done(h, lim)
            if status:
                return -status, None
            h.head_len = p
            return p, h
    # Out of bytes: refuse now if the current line or the head is already too long.
    if _S_METHOD <= state <= _S_VERSION and end - line > lim.max_request_line:
        return -414, None
    if _S_NAME <= state <= _S_VALUE and p - line > lim.max_header_line:
        return -431, None
    if n >= lim.max_head:
        return (-414 if _S_METHOD <= state <= _S_VERSION else -431), None
    return _INCOMPLETE, None


# Chunked decoder states (kiln_http.c CH_*), in its order.
_CH_SIZE = 0
_CH_SIZE_WS = 1
_CH_EXT_NAME0 = 2
_CH_EXT_NAME = 3
_CH_EXT_NAME_WS = 4
_CH_EXT_AFTER = 5
_CH_EXT_VALUE0 = 6
_CH_EXT_TOKEN = 7
_CH_EXT_QUOTED = 8
_CH_EXT_ESCAPE = 9
_CH_SIZE_LF = 10
_CH_DATA = 11
_CH_DATA_END = 12
_CH_DATA_LF = 13
_CH_TRAILER = 14
_CH_TRAILER_NAME = 15
_CH_TRAILER_VALUE = 16
_CH_TRAILER_LF = 17
_CH_END_LF = 18
# the states that follow a CR
_CR_STATES = (_CH_SIZE_LF, _CH_DATA_LF, _CH_TRAILER_LF, _CH_END_LF)


def _hex_value(c):
    return c - 48 if c <= 57 else _lower(c) - 87


def _decode_chunked(buf, start, n, lim):
    # kiln_http_decode_chunked over buf[start:n], from the body's first byte:
    # (_INCOMPLETE, None, 0), (-status, None, 0), or (0, body, end of the body in buf).
    out = []
    i = start
    state = _CH_SIZE
    remaining = total = line_len = trailer_len = ends = 0
    while i < n:
        if state == _CH_DATA:
            k = n - i
            if k > remaining:
                k = remaining
            out.append(bytes(buf[i:i + k]))
            i += k
            remaining -= k
            total += k
            if remaining == 0:
                state = _CH_DATA_END
            continue
        c = buf[i]
        i += 1
        if c == 10:
            # every LF outside the data ends a line (or is refused below): bare unless after a CR
            ends |= 1 if state in _CR_STATES else 2
            if ends == 3 or (ends & 2 and not lim.allow & _ALLOW_BARE_LF):
                return -400, None, 0
        if state < _CH_DATA_END or state >= _CH_TRAILER:
            line_len += 1
            if line_len > lim.max_header_line:
                return -431, None, 0
            if state >= _CH_TRAILER:
                trailer_len += 1
                if trailer_len > lim.max_head:
                    return -431, None, 0
        if state == _CH_SIZE:
            if _CLASS[c] & _HEX:
                if remaining > 0x0FFFFFFF:
                    return -400, None, 0
                remaining = (remaining << 4) | _hex_value(c)
                continue
            if line_len == 1:
                return -400, None, 0
            if c == 59:  # ';'
                state = _CH_EXT_NAME0
            elif c in (32, 9):
                state = _CH_SIZE_WS
            elif c == 13:
                state = _CH_SIZE_LF
            elif c == 10:
                state = -1  # the size line ends
            else:
                return -400, None, 0
        elif state == _CH_SIZE_WS:
            if c == 59:
                state = _CH_EXT_NAME0
            elif c not in (32, 9):
                return -400, None, 0
        elif _CH_EXT_NAME0 <= state <= _CH_EXT_ESCAPE:
            # chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
            if state == _CH_EXT_NAME0 or state == _CH_EXT_VALUE0:
                if _CLASS[c] & _TOK:
                    state = _CH_EXT_NAME if state == _CH_EXT_NAME0 else _CH_EXT_TOKEN
                elif c == 34 and state == _CH_EXT_VALUE0:  # '"'
                    state = _CH_EXT_QUOTED
                elif c not in (32, 9):
                    return -400, None, 0  # an empty name or value
            elif state == _CH_EXT_QUOTED:
                if c == 34:
                    state = _CH_EXT_AFTER
                elif c == 92:  # backslash
                    state = _CH_EXT_ESCAPE
                elif not _CLASS[c] & _VAL:
                    return -400, None, 0  # a control character, or the line ended in the quotes
            elif state == _CH_EXT_ESCAPE:
                if not _CLASS[c] & _VAL:
                    return -400, None, 0
                state = _CH_EXT_QUOTED
            elif (state == _CH_EXT_NAME or state == _CH_EXT_TOKEN) and _CLASS[c] & _TOK:
                pass
            else:
                if state == _CH_EXT_NAME:
                    state = _CH_EXT_NAME_WS
                elif state == _CH_EXT_TOKEN:
                    state = _CH_EXT_AFTER
                if c == 61 and state == _CH_EXT_NAME_WS:  # '='
                    state = _CH_EXT_VALUE0
                elif c == 59:
                    state = _CH_EXT_NAME0
                elif c == 13:
                    state = _CH_SIZE_LF
                elif c == 10:
                    state = -1
                elif c not in (32, 9):
                    return -400, None, 0  # a second '=', a stray character
        elif state == _CH_SIZE_LF:
            if c != 10:
                return -400, None, 0
            state = -1
        elif state == _CH_DATA_END or state == _CH_DATA_LF:
            if state == _CH_DATA_END and c == 13:
                state = _CH_DATA_LF
            elif c != 10:
                return -400, None, 0
            else:
                state = _CH_SIZE
        elif state == _CH_TRAILER:
            if c == 13:
                state = _CH_END_LF
            elif c == 10:
                return 0, b"".join(out), i
            elif _CLASS[c] & _TOK:
                state = _CH_TRAILER_NAME
            else:
                return -400, None, 0
        elif state == _CH_TRAILER_NAME:
            if c == 58:
                state = _CH_TRAILER_VALUE
            elif not _CLASS[c] & _TOK:
                return -400, None, 0
        elif state == _CH_TRAILER_VALUE or state == _CH_TRAILER_LF:
            if state == _CH_TRAILER_VALUE and c == 13:
                state = _CH_TRAILER_LF
            elif state == _CH_TRAILER_VALUE and _CLASS[c] & _VAL:
                pass
            elif c != 10:
                return -400, None, 0
            else:
                state = _CH_TRAILER
                line_len = 0
        else:  # _CH_END_LF
            if c != 10:
                return -400, None, 0
            return 0, b"".join(out), i
        if state == -1:
            if remaining > lim.max_body - total:
                return -413, None, 0
            line_len = 0
            state = _CH_DATA if remaining else _CH_TRAILER
    return _INCOMPLETE, None, 0


def _field_ok(b, value):
    # kiln_http_field_ok: a name is a token (not empty), a value VCHAR, obs-text, SP and HTAB
    cls = _VAL if value else _TOK
    for c in b:
        if not _CLASS[c] & cls:
            return False
    return bool(b) or value


def _str_data(s):
    # mp_obj_str_get_data: the bytes of a str or bytes, TypeError for anything else
    if isinstance(s, str):
        return s.encode()
    if isinstance(s, bytes):
        return s
    raise TypeError("can't convert '%s' object to str implicitly" % type(s).__name__)


def header_ok(name, value):
    """Whether a response header may be written as given (the parser's field rules)."""
    return _field_ok(_str_data(name), False) and _field_ok(_str_data(value), True)


# --- strings ----------------------------------------------------------------------------------


def _utf8_len(b):
    return 1 if b < 0x80 else 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0


def _str(data):
    # A str of the bytes; bytes that do not start a valid UTF-8 sequence become U+FFFD (a
    # client's obs-text or %ff is read, never raises), as the C module does.
    try:
        return str(data, "utf-8")
    except UnicodeError:
        pass
    parts = []
    i = 0
    n = len(data)
    while i < n:
        k = _utf8_len(data[i])
        if k and k <= n - i:
            try:
                parts.append(str(data[i:i + k], "utf-8"))
                i += k
                continue
            except UnicodeError:
                pass
        parts.append("\ufffd")
        i += 1
    return "".join(parts)


def _decode(data, plus):
    # Percent-decodes the bytes data (a '%' without two hex digits stays) into a str.
    if b"%" not in data and not (plus and b"+" in data):
        return _str(data)
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        c = data[i]
        if c == 37 and n - i > 2 and _CLASS[data[i + 1]] & _HEX and _CLASS[data[i + 2]] & _HEX:
            c = (_hex_value(data[i + 1]) << 4) | _hex_value(data[i + 2])
            i += 2
        elif c == 43 and plus:
            c = 32
        out.append(c)
        i += 1
    return _str(bytes(out))


def url_decode(s, plus=False):
    if isinstance(s, str):
        if "%" not in s and not (plus and "+" in s):
            return s
        s = s.encode()
    return _decode(bytes(s), plus)


def parse_qs(s):
    data = s.encode() if isinstance(s, str) else bytes(s)
    pairs = []
    for part in data.split(b"&"):
        if not part:
            continue
        eq = part.find(b"=")  # no bytes.partition on the ESP8266 port
        name, value = (part, b"") if eq < 0 else (part[:eq], part[eq + 1:])
        pairs.append((_decode(name, True), _decode(value, True)))
    return pairs


async def _async_probe():
    pass


def _plain_probe():
    pass


_GEN_FUNCTION = type(_async_probe)
_FUNCTION = type(_plain_probe)


def is_coroutine_function(f):
    # MicroPython gives an async def function a type of its own only when it is neither a
    # closure nor a bound method; the C module looks inside those, Python can only read repr().
    flags = getattr(getattr(f, "__code__", None), "co_flags", None)
    if flags is not None:  # CPython: CO_COROUTINE
        return bool(flags & 0x80)
    t = type(f)
    if t is _GEN_FUNCTION and t is not _FUNCTION:
        return True
    func = getattr(f, "__func__", None)
    if func is not None:
        return is_coroutine_function(func)
    name = t.__name__
    if name == "closure":
        return repr(f).startswith("<closure <generator>")
    if name == "bound_method":  # "<bound_method ID SELF.FUNCTION>", FUNCTION a closure or not
        r = repr(f)
        return r.endswith(".<generator>>") or ".<closure <generator> at " in r
    return False


# --- Request and Headers ----------------------------------------------------------------------


class Headers:
    """A request's headers, read-only, names matched case-insensitively."""

    def __init__(self, parsed):
        self._p = parsed

    def _items(self):
        p = self._p
        data = p.data
        if data is None:
            raise RuntimeError("request finished")
        items = p.items
        if items is None:
            items = p.items = [(_str(data[a:a + b]), _str(data[c:c + d])) for a, b, c, d in p.head.headers]
        return items

    def _find(self, name, start=0):
        key = name.lower()
        items = self._items()
        for i in range(start, len(items)):
            if items[i][0].lower() == key:
                return i
        return -1

    def __getitem__(self, name):
        i = self._find(name)
        if i < 0:
            raise KeyError(name)
        return self._items()[i][1]

    def __setitem__(self, name, value):
        raise TypeError("headers are read-only")

    def get(self, name, default=None):
        i = self._find(name)
        return default if i < 0 else self._items()[i][1]

    def getall(self, name):
        key = name.lower()
        return [v for n, v in self._items() if n.lower() == key]

    def items(self):
        return list(self._items())

    def __iter__(self):
        return iter([n for n, _ in self._items()])

    def __len__(self):
        return len(self._p.head.headers)

    def __bool__(self):
        return bool(self._p.head.headers)

    def __contains__(self, name):
        return isinstance(name, str) and self._find(name) >= 0


class _Parsed:
    # What the C module's Request holds: the head, the bytes it is in (None once finished), the
    # body, the two fields the loop sets, and the views made on first read. Every Request made of
    # it (Request(req)) shares it.
    def __init__(self, data, h, body):
        self.data = data
        self.head = h
        self.body = body
        self.stream = None
        self.client_addr = None
        self.method = h.method or _str(data[h.method_off:h.method_off + h.method_len])
        self.path = None
        self.headers = None
        self.items = None

    def text(self, off, n):
        if self.data is None:
            raise RuntimeError("request finished")
        return _str(self.data[off:off + n])


def _field(read):
    return property(lambda req: read(req._p, req._p.head))


def _settable(name):
    return property(lambda req: getattr(req._p, name), lambda req, value: setattr(req._p, name, value))


def _path(p, h):
    if p.path is None:
        if p.data is None:
            raise RuntimeError("request finished")
        p.path = _decode(p.data[h.path_off:h.path_off + h.path_len], False) if h.path_len else "/"
    return p.path


def _headers(p, h):
    if p.headers is None:
        p.headers = Headers(p)
    return p.headers


class Request:
    """A parsed request: the loop and the Parser make it, or an instance of a subclass of it
    (their `request_class`), without calling __init__. The fields are read-only but for stream
    and client_addr; a subclass's instance stores what Python sets on it. `Cls(req)` gives
    req's parse to a new instance of subclass Cls."""

    def __init__(self, req):
        if not isinstance(req, Request):
            raise TypeError("requests are made by the parser")
        self._p = req._p

    method = _field(lambda p, h: p.method)
    path = _field(_path)
    target = _field(lambda p, h: p.text(h.target_off, h.target_len))
    query_string = _field(lambda p, h: p.text(h.query_off, h.query_len))
    http_version = _field(lambda p, h: "1.1" if h.minor else "1.0")
    headers = _field(_headers)
    content_length = _field(lambda p, h: h.content_length if h.flags & _F_CONTENT_LENGTH else None)
    chunked = _field(lambda p, h: bool(h.flags & _F_CHUNKED))
    keep_alive = _field(lambda p, h: bool(h.flags & _F_KEEP_ALIVE))
    expect_continue = _field(lambda p, h: bool(h.flags & _F_EXPECT_CONTINUE))
    upgrade = _field(lambda p, h: p.text(h.upgrade_off, h.upgrade_len) if h.flags & _F_UPGRADE else None)
    body = _field(lambda p, h: p.body)
    stream = _settable("stream")
    client_addr = _settable("client_addr")

    def finish(self):
        self._p.data = None

    def __repr__(self):
        p = self._p
        return "<Request %s%s>" % (p.method if p.method in METHODS else "(custom)",
                                  " finished" if p.data is None else "")


_new = object.__new__


def request_class_of(cls):
    """The class a server or Parser makes requests of (kiln_request_class in the C module)."""
    if cls is None:
        return Request
    if not (isinstance(cls, type) and issubclass(cls, Request)):
        raise TypeError("request_class must be _kiln.Request or a subclass")
    return cls


def new_request(cls, data, h, body):
    """A request of class cls made from a parsed head (kiln_request_new)."""
    req = _new(cls)
    req._p = _Parsed(data, h, body)
    return req


class Parser:
    """An incremental HTTP/1.1 request parser: `feed(data)` gives a Request once a head and its
    body are complete, None while it needs more bytes, and raises ValueError(status, reason) on
    a bad request. Bytes after a request stay for the next feed (pipelining)."""

    def __init__(
        self, *, max_request_line=_MAX_REQUEST_LINE, max_header_line=_MAX_HEADER_LINE, max_head=_MAX_HEAD,
        max_headers=_MAX_HEADERS, max_body=_MAX_BODY, custom_methods=False, lenient_lf=False,
        request_class=None,
    ):
        for v, top in ((max_request_line, 65535), (max_header_line, 65535), (max_head, 65535),
                       (max_headers, 65535), (max_body, 0x7FFFFFFF)):
            if v < 1 or v > top:
                raise ValueError("limit out of range")
        self._lim = _Limits(max_request_line, max_header_line, max_head, max_body,
                            (_ALLOW_CUSTOM if custom_methods else 0) | (_ALLOW_BARE_LF if lenient_lf else 0))
        self._max_headers = max_headers
        self._request_class = request_class_of(request_class)
        self._buf = b""
        self._failed = 0

    def _fail(self, status):
        self._failed = status
        raise ValueError(status, reason(status))

    def feed(self, data):
        if self._failed:
            raise ValueError(self._failed, reason(self._failed))
        if data:
            self._buf = self._buf + bytes(data) if self._buf else bytes(data)
        buf = self._buf
        n = len(buf)
        if not n:
            return None
        head_len, h = _parse_head(buf, n, self._max_headers, self._lim)
        if head_len == _INCOMPLETE:
            return None
        if head_len < 0:
            self._fail(-head_len)
        if h.flags & _F_CHUNKED:
            r, body, end = _decode_chunked(buf, head_len, n, self._lim)
            if r == _INCOMPLETE:
                return None
            if r < 0:
                self._fail(-r)
        else:
            end = head_len + (h.content_length if h.flags & _F_CONTENT_LENGTH else 0)
            if n < end:
                return None
            body = buf[head_len:end]
        self._buf = buf[end:]
        return new_request(self._request_class, buf, h, body)
