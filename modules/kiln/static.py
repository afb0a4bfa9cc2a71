# Files: send_file() and static folders, with ETag/Last-Modified validators, single ranges,
# precompressed .gz variants, and no way out of the static root.
import gc
import os
from time import ticks_diff, ticks_ms

from kiln.request import refuse
from kiln.response import HTTPException, NoCaseDict, Response, http_date, slash_location
from kiln.text import partition

MIME_TYPES = {
    "html": "text/html; charset=UTF-8", "htm": "text/html; charset=UTF-8",
    "css": "text/css", "js": "text/javascript", "mjs": "text/javascript",
    "json": "application/json", "txt": "text/plain; charset=UTF-8", "xml": "application/xml",
    "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "gif": "image/gif", "ico": "image/x-icon", "webp": "image/webp", "wasm": "application/wasm",
    "woff": "font/woff", "woff2": "font/woff2", "pdf": "application/pdf", "csv": "text/csv",
    "md": "text/markdown; charset=UTF-8", "map": "application/json", "bin": "application/octet-stream",
}
DEFAULT_TYPE = "application/octet-stream"
_bare = object.__new__
try:
    _store = object.__setattr__
except AttributeError:  # a port without MICROPY_PY_DELATTR_SETATTR
    _store = setattr


def guess_type(filename):
    """The MIME type of a file name, from its extension."""
    dot = filename.rfind(".")
    if dot < 0:
        return DEFAULT_TYPE
    return MIME_TYPES.get(filename[dot + 1 :].lower(), DEFAULT_TYPE)


_os_stat = os.stat


def _stat(path):
    try:
        st = _os_stat(path)
    except OSError:
        return None
    return st


#: Files whose metadata (size, modification time, validators, type) is kept between requests,
#: by path: 8, or 3 in a heap under 64 KB (an entry holds about 620 bytes on a 32-bit board).
#: The file served is still stat'ed on every request, so a change is seen at once; a ``.gz``
#: variant that appears beside an unchanged file is seen within ``VARIANT_RECHECK_MS``.
CACHE_SIZE = 8 if gc.mem_free() + gc.mem_alloc() >= 65536 else 3
VARIANT_RECHECK_MS = 1000
# path -> [ticks checked, plain meta, .gz meta, the plain 200's kept answer, the .gz one's,
#          ("Content-Type", guessed), plain path as bytes, .gz path as bytes]
_cache = {}


def _meta(st, gz):
    # What a response needs to know of a file, from its stat: (size, mtime, is_dir, ETag,
    # Last-Modified, Content-Length); None for a missing file.
    if st is None:
        return None
    if st[0] & 0x4000:  # a folder
        return (0, 0, True, None, None, None)
    size = st[6]
    mtime = st[8]
    tag = '"%x-%x%s"' % (mtime, size, "-gz" if gz else "")
    modified = http_date(mtime) if mtime > 0 else None
    return (size, mtime, False, tag, modified, str(size))


def _validators(m):
    # A 200's headers from a file's meta.
    out = [("ETag", m[3])]
    if m[4]:
        out.append(("Last-Modified", m[4]))
    out.append(("Accept-Ranges", "bytes"))
    out.append(("Content-Length", m[5]))
    return out


def _entry(path):
    # The cache entry of path, its variants looked at again after VARIANT_RECHECK_MS.
    e = _cache.get(path)
    now = ticks_ms()
    if e is None or ticks_diff(now, e[0]) >= VARIANT_RECHECK_MS:
        # The file system is asked with bytes paths: a str path is made again by the VFS, and a
        # new str costs a look-up in the interned strings (-7k instructions per file response,
        # bench/files.py)
        plain = path.encode()
        gz = plain + b".gz"
        known = e is not None
        e = [now, _meta(_stat(plain), False), _meta(_stat(gz), True), None, None,
             ("Content-Type", guess_type(path)), plain, gz]
        if e[1] is not None or e[2] is not None:
            # kept; a path that is not there (a scanner's guesses) takes no one's place
            if not known and len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[path] = e
        elif known:
            del _cache[path]
    return e


def _parse_range(spec, size):
    """(start, end) inclusive for a single 'bytes=' range; None to ignore; -1 if unsatisfiable."""
    if not spec.startswith("bytes=") or "," in spec:
        return None
    first, dash, last = partition(spec[6:].strip(), "-")
    if not dash:
        return None
    try:
        if first:
            start = int(first)
            end = int(last) if last else size - 1
            if start >= size:
                return -1
            if start < 0 or end < start:
                return None
        else:
            n = int(last)
            if n <= 0:
                return -1
            start = max(0, size - n)
            end = size - 1
    except ValueError:
        return None
    if start >= size:
        return -1
    return start, min(end, size - 1)


def _open_unchanged(path, m):
    # the file at path opened if it is still the one meta m describes (a frame of at most 11
    # words: a larger one is allocated on the heap, ~1k instructions a call)
    st = _stat(path)
    if st is not None and st[6] == m[0] and st[8] == m[1] and not st[0] & 0x4000:
        return _open(path)
    return None


def _open(path):
    try:
        return open(path, "rb")
    except OSError:
        return None  # not readable: the general path answers, through the app's error handling


class FileResponse(Response):
    """A Response whose body is a file; validators and ranges are settled in ``prepare``.

    A plain 200 keeps its headers as a list made once per file (until the file changes), unless
    the app reads or changes ``headers``: then they are a NoCaseDict, as for any Response."""

    body = ""
    # What prepare chose: (the header list, None once a NoCaseDict holds them; the file to open
    # in to_tuple: (path, offset), or None). One attribute: a store to a
    # Response costs ~700 instructions (its class has a property).
    _out = None

    def __init__(self, path, status_code=200, content_type=None, max_age=None, gzip=True,
                 etag=True):
        self._opts = (path, content_type, max_age, gzip, etag)
        if status_code != 200:
            self.status_code = status_code

    @Response.headers.getter
    def headers(self):
        """The response headers (case-insensitive)."""
        h = self._headers
        if h is None:
            out = self._out
            if out is None or out[0] is None:
                path, content_type, max_age = self._opts[:3]
                h = [("Content-Type", content_type or guess_type(path))]
                if max_age is not None:
                    h.append(("Cache-Control", "max-age=%d" % max_age))
            else:
                h = out[0]
                _store(self, "_out", (None, out[1]))
            h = self._headers = NoCaseDict(h)
        return h

    def prepare(self, req):
        """Choose the .gz variant, answer If-None-Match/If-Modified-Since (304) and Range (206
        or 416) for ``req``, and choose the file to open."""
        path, content_type, max_age, gzip, etag = self._opts
        # _entry written out: a call costs ~1.4k instructions (bench/files.py)
        e = _cache.get(path)
        if e is None or ticks_diff(ticks_ms(), e[0]) >= VARIANT_RECHECK_MS:
            e = _entry(path)
        gz = e[2]
        i = 1
        if gzip and gz is not None and not gz[2]:
            if e[1] is None or (req is not None and "gzip" in req.headers.get("Accept-Encoding", "")):
                i = 2
        else:
            gzip = False
        path = e[5 + i]
        # The file served is looked at on every request: a changed file gets new validators.
        st = _stat(path)
        m = e[i]
        if st is None and m is not None and i == 2:
            # the .gz variant is gone: look again at both
            _cache.pop(self._opts[0], None)
            return self.prepare(req)
        if st is not None and (m is None or st[6] != m[0] or st[8] != m[1]
                               or (st[0] & 0x4000 != 0) != m[2]):
            m = e[i] = _meta(st, i == 2)
        if st is None or m[2]:
            if req is not None:
                # answered as a missing static file is: the app's 404 (its handler, if any)
                raise HTTPException(404)
            self.status_code = 404
            self.headers = NoCaseDict({"Content-Type": "text/plain; charset=UTF-8"})
            self.body = "Not Found"
            _store(self, "_out", (None, None))
            return
        size = m[0]
        tag = m[3] if etag else None
        modified = m[4]
        status = self.status_code
        fresh = False  # a 304
        rng = None
        if status == 200 and req is not None:
            h = req.headers
            inm = h.get("If-None-Match")
            if inm is not None:
                # weak comparison (RFC 9110 13.1.2): W/"x" matches "x". A quoted tag (no comma,
                # space or quote inside) found in the list is one of its members.
                fresh = tag is not None and (inm.strip() == "*" or tag in inm)
            elif modified is not None:
                fresh = h.get("If-Modified-Since") == modified
            spec = None if fresh else h.get("Range")
            if spec is not None and req.method in ("GET", "HEAD"):
                cond = h.get("If-Range")
                if cond is None or cond == tag or cond == modified:
                    rng = _parse_range(spec, size)
        if status == 200 and not fresh and rng is None and etag and self._headers is None:
            # A plain 200: the answer for these options is kept with the entry, so that a
            # request for an unchanged file makes no list and no tuple of its own.
            kept = e[2 + i]
            if kept is None or kept[0] is not m or kept[1] != self._opts:
                head = [("Content-Type", content_type) if content_type else e[5]]
                if max_age is not None:
                    head.append(("Cache-Control", "max-age=%d" % max_age))
                if gzip:
                    head.append(("Vary", "Accept-Encoding"))
                if i == 2:
                    head.append(("Content-Encoding", "gzip"))
                kept = e[2 + i] = (m, self._opts, (head + _validators(m), (path, 0)))
            _store(self, "_out", kept[2])
            return
        h = self.headers
        if gzip:
            h["Vary"] = "Accept-Encoding"
            if i == 2:
                h["Content-Encoding"] = "gzip"
        h.update(_validators(m) if status == 200 else [("Content-Length", m[5])])
        if not etag:
            h.pop("ETag", None)
        to_open = (path, 0)
        if status == 200:
            if fresh:
                self.status_code = 304
                for name in ("Content-Type", "Content-Encoding", "Accept-Ranges", "Content-Length"):
                    h.pop(name, None)
                to_open = None
            if rng == -1:
                self.status_code = 416
                h["Content-Range"] = "bytes */%d" % size
                h["Content-Length"] = "0"
                to_open = None
            elif rng is not None:
                start, end = rng
                self.status_code = 206
                h["Content-Range"] = "bytes %d-%d/%d" % (start, end, size)
                h["Content-Length"] = str(end - start + 1)
                to_open = (path, start)
        _store(self, "_out", (None, to_open))

    def _answer(self, req):
        # prepare and to_tuple at once, when nothing runs after the view: the kept 200 of an
        # unchanged file, to a request with no condition and no range
        e = _cache.get(self._opts[0])
        if e is None or e[2] is not None or ticks_diff(ticks_ms(), e[0]) >= VARIANT_RECHECK_MS:
            return None
        kept = e[3]
        if kept is None or kept[1] != self._opts or self._headers is not None \
                or self.cookies is not None or self.status_code != 200:
            return None
        h = req.headers
        if "Range" in h or "If-None-Match" in h or "If-Modified-Since" in h:
            return None
        h = _open_unchanged(e[6], kept[0])
        return None if h is None else (200, kept[2][0], h)

    def to_tuple(self):
        if self._out is None:
            self.prepare(None)
        head, to_open = self._out
        if head is None or self.cookies is not None:
            head = self._header_list(self.headers._d)
        if to_open is None:
            return (self.status_code, head, self.body)
        # Opened last, when nothing (a hook, a bad header) can fail any more: the loop closes it.
        # A 206 starts at its range; the loop stops at the Content-Length, where the range ends.
        f = open(to_open[0], "rb")
        if to_open[1]:
            f.seek(to_open[1])
        return (self.status_code, head, f)


def send_file(filename, status_code=200, content_type=None, max_age=None, gzip=True, etag=True):
    """A Response streaming ``filename`` in bounded chunks.

    The type comes from the extension unless ``content_type`` is given; ``max_age`` adds
    Cache-Control. When the app serves it, ``filename + '.gz'`` is sent instead if it exists and
    the client accepts gzip, a matching If-None-Match or If-Modified-Since gives 304, and a
    single Range gives 206 (or 416)."""
    # The options as one tuple, in a parameter's slot: a frame over 11 words is allocated on the
    # heap (~1k instructions a call, bench/files.py)
    filename = (filename, content_type, max_age, gzip, etag)
    return _file_response(filename, status_code)


def _file_response(opts, status_code):
    r = _bare(FileResponse)  # no call of __init__, one store: -7k instructions (bench/files.py)
    _store(r, "_opts", opts)
    if status_code != 200:
        r.status_code = status_code
    return r


def safe_join(root, rel, req=None):
    """``root/rel`` if ``rel`` stays inside root; raises 404 (escapes) or 400 (NUL, backslash)."""
    _check_relative(rel, req)
    return root.rstrip("/") + "/" + rel if rel else root


def _check_relative(rel, req):
    if "\0" in rel or "\\" in rel:
        refuse(400, "bad character in file path", req)
    if rel.startswith("/"):
        refuse(404, "absolute file path refused", req)
    # a "." or ".." segment starts with a dot: the segments are looked at only then
    if rel.startswith(".") or "/." in rel:
        for part in rel.split("/"):
            if part == ".." or part == ".":
                refuse(404, "file path escapes the static root", req)


def mount_static(app, url_prefix, root, index="index.html", max_age=None, gzip=True):
    """Serve folder ``root`` under ``url_prefix``: files with send_file's validators, ``index``
    for folders (a folder URL without its final '/' redirects to it)."""
    prefix = url_prefix.rstrip("/")
    base = root.rstrip("/") + "/"

    known = {}  # filename -> send_file's options, for the files found already

    def static_file(request, filename=""):
        # small, for the files found already: a frame over 11 words comes from the heap
        opts = known.get(filename)
        if opts is not None:
            # a file served before: send_file checks it is still there
            return _file_response(opts, 200)
        return find(request, filename)

    def find(request, filename):
        _check_relative(filename, request)
        path = base + filename if filename else root
        # what the cache knows (send_file stats the file it serves; a path not there is looked
        # at afresh)
        e = _entry(path)
        plain = e[1]
        if plain is None:
            if gzip and e[2] is not None:
                return send_file(path, 200, None, max_age)
            raise HTTPException(404)  # as send_file of a missing file answers
        if plain[2]:
            if filename and not filename.endswith("/"):
                # 308, as a route's trailing-slash redirect; the query is kept
                return Response("", 308, {"Location": slash_location(request.url)})
            return send_file(path.rstrip("/") + "/" + index, 200, None, max_age, gzip)
        if len(known) >= CACHE_SIZE:
            known.clear()
        r = send_file(path, 200, None, max_age, gzip)
        known[filename] = r._opts
        return r

    name = "static" if not prefix else "static" + prefix.replace("/", "_")
    app.route(prefix + "/", endpoint=name + "_index")(static_file)
    app.route(prefix + "/<path:filename>", endpoint=name)(static_file)
