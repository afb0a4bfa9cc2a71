# Files: send_file() and static folders, with ETag/Last-Modified validators, single ranges,
# precompressed .gz variants, and no way out of the static root.
import os

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


def guess_type(filename):
    """The MIME type of a file name, from its extension."""
    dot = filename.rfind(".")
    if dot < 0:
        return DEFAULT_TYPE
    return MIME_TYPES.get(filename[dot + 1 :].lower(), DEFAULT_TYPE)


def _stat(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st


def _is_dir(st):
    return st[0] & 0x4000 != 0


class _Slice:
    """Reads at most ``left`` bytes of a file: the body of a 206 response."""

    def __init__(self, f, left):
        self.f = f
        self.left = left

    def readinto(self, buf):
        if self.left <= 0:
            return 0
        if len(buf) > self.left:
            buf = memoryview(buf)[: self.left]
        n = self.f.readinto(buf)
        if not n:
            return 0
        self.left -= n
        return n

    def close(self):
        self.f.close()


def _strip_weak(tag):
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


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


class FileResponse(Response):
    """A Response whose body is a file; validators and ranges are settled in ``prepare``."""

    def __init__(self, path, status_code=200, content_type=None, max_age=None, gzip=True,
                 etag=True):
        super().__init__("", status_code)
        self.path = path
        self.gzip = gzip
        self.etag = etag
        self.headers["Content-Type"] = content_type or guess_type(path)
        if max_age is not None:
            self.headers["Cache-Control"] = "max-age=%d" % max_age
        self.prepared = False
        self._open = None

    def prepare(self, req):
        """Choose the .gz variant, answer If-None-Match/If-Modified-Since (304) and Range (206
        or 416) for ``req``, and open the file."""
        self.prepared = True
        headers = self.headers
        path = self.path
        st = None
        if self.gzip:
            gz = _stat(path + ".gz")
            if gz is not None:
                plain = _stat(path)
                accept = req.headers.get("Accept-Encoding", "") if req is not None else ""
                if plain is None or "gzip" in accept:
                    path += ".gz"
                    st = gz
                    headers["Content-Encoding"] = "gzip"
                else:
                    st = plain
                headers["Vary"] = "Accept-Encoding"
        if st is None:
            st = _stat(path)
        if st is None or _is_dir(st):
            if req is not None:
                # answered as a missing static file is: the app's 404 (its handler, if any)
                raise HTTPException(404)
            self.status_code = 404
            self.headers = NoCaseDict({"Content-Type": "text/plain; charset=UTF-8"})
            self.body = "Not Found"
            return
        size = st[6]
        mtime = st[8]
        if self.status_code != 200:
            self._open = (path, 0, None)
            headers["Content-Length"] = str(size)
            return
        tag = None
        if self.etag:
            tag = '"%x-%x%s"' % (mtime, size, "-gz" if path is not self.path else "")
            headers["ETag"] = tag
        modified = http_date(mtime) if mtime > 0 else None
        if modified:
            headers["Last-Modified"] = modified
        headers["Accept-Ranges"] = "bytes"
        if req is not None:
            h = req.headers
            inm = h.get("If-None-Match")
            if inm is not None:
                # weak comparison (RFC 9110 13.1.2): W/"x" matches "x"
                if tag is not None and (inm.strip() == "*" or tag in [_strip_weak(t) for t in inm.split(",")]):
                    return self._not_modified()
            elif modified is not None and h.get("If-Modified-Since") == modified:
                return self._not_modified()
            spec = h.get("Range")
            if spec is not None and req.method in ("GET", "HEAD"):
                cond = h.get("If-Range")
                if cond is None or cond == tag or cond == modified:
                    rng = _parse_range(spec, size)
                    if rng == -1:
                        self.status_code = 416
                        headers["Content-Range"] = "bytes */%d" % size
                        headers["Content-Length"] = "0"
                        return
                    if rng is not None:
                        start, end = rng
                        self.status_code = 206
                        headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, size)
                        headers["Content-Length"] = str(end - start + 1)
                        self._open = (path, start, end - start + 1)
                        return
        headers["Content-Length"] = str(size)
        self._open = (path, 0, None)

    def _not_modified(self):
        self.status_code = 304
        for name in ("Content-Type", "Content-Encoding", "Accept-Ranges", "Content-Length"):
            self.headers.pop(name, None)

    def to_tuple(self):
        if not self.prepared:
            self.prepare(None)
        t = super().to_tuple()
        if self._open is not None:
            # Opened last, when nothing (a hook, a bad header) can fail any more: the loop closes it.
            path, start, length = self._open
            f = open(path, "rb")
            if length is not None:
                f.seek(start)
                f = _Slice(f, length)
            t = (t[0], t[1], f)
        return t


def send_file(filename, status_code=200, content_type=None, max_age=None, gzip=True, etag=True):
    """A Response streaming ``filename`` in bounded chunks.

    The type comes from the extension unless ``content_type`` is given; ``max_age`` adds
    Cache-Control. When the app serves it, ``filename + '.gz'`` is sent instead if it exists and
    the client accepts gzip, a matching If-None-Match or If-Modified-Since gives 304, and a
    single Range gives 206 (or 416)."""
    return FileResponse(filename, status_code, content_type, max_age, gzip, etag)


def safe_join(root, rel, req=None):
    """``root/rel`` if ``rel`` stays inside root; raises 404 (escapes) or 400 (NUL, backslash)."""
    if "\0" in rel or "\\" in rel:
        refuse(400, "bad character in file path", req)
    if rel.startswith("/"):
        refuse(404, "absolute file path refused", req)
    for part in rel.split("/"):
        if part == ".." or part == ".":
            refuse(404, "file path escapes the static root", req)
    return root.rstrip("/") + "/" + rel if rel else root


def mount_static(app, url_prefix, root, index="index.html", max_age=None, gzip=True):
    """Serve folder ``root`` under ``url_prefix``: files with send_file's validators, ``index``
    for folders (a folder URL without its final '/' redirects to it)."""
    prefix = url_prefix.rstrip("/")

    def static_file(request, filename=""):
        path = safe_join(root, filename, request)
        st = _stat(path)
        if st is None and gzip:
            if _stat(path + ".gz") is not None:
                return send_file(path, max_age=max_age, gzip=True)
        if st is None:
            raise HTTPException(404)  # as send_file of a missing file answers
        if _is_dir(st):
            if filename and not filename.endswith("/"):
                # 308, as a route's trailing-slash redirect; the query is kept
                return Response("", 308, {"Location": slash_location(request.url)})
            path = path.rstrip("/") + "/" + index
        return send_file(path, max_age=max_age, gzip=gzip)

    name = "static" if not prefix else "static" + prefix.replace("/", "_")
    app.route(prefix + "/", endpoint=name + "_index")(static_file)
    app.route(prefix + "/<path:filename>", endpoint=name)(static_file)
