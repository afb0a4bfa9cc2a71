# multipart/form-data: an incremental parser fed with body chunks, so uploads are never held
# whole in RAM; small files stay in memory, larger ones are spooled to a file.
import binascii
import os

from kiln.request import MultiDict, refuse
from kiln.routing import Wrapped, endpoint_info
from kiln.text import partition

_PREAMBLE, _DELIM, _HEADERS, _BODY, _DONE = 0, 1, 2, 3, 4
_MAX_HEAD = 1024
def _new_spool_path(folder):
    # A random name that does not exist yet: two servers sharing /tmp do not collide, and a
    # name planted in advance (a symlink) is not guessable.
    while True:
        path = "%s/kiln-upload-%s" % (folder, binascii.hexlify(os.urandom(8)).decode())
        try:
            os.stat(path)
        except OSError:
            return path


def parse_options(value):
    """Split ``form-data; name="a"; filename="b"`` into ('form-data', {'name': 'a', ...})."""
    main, _, rest = partition(value, ";")
    options = {}
    while rest:
        rest = rest.lstrip(" ;\t")
        key, eq, rest = partition(rest, "=")
        if not eq:
            break
        rest = rest.lstrip()
        if rest.startswith('"'):
            end = 1
            val = ""
            while end < len(rest) and rest[end] != '"':
                if rest[end] == "\\" and end + 1 < len(rest):
                    end += 1
                val += rest[end]
                end += 1
            rest = rest[end + 1 :]
        else:
            val, _, rest = partition(rest, ";")
            val = val.strip()
        options[key.strip().lower()] = val
    return main.strip().lower(), options


class FileUpload:
    """An uploaded file: ``name`` (form field), ``filename``, ``content_type``, ``headers``,
    ``size``; ``read()`` gives its bytes, ``save(path)`` stores it."""

    def __init__(self, name, filename, content_type, headers, threshold, spool_dir):
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.size = 0
        self._threshold = threshold
        self._spool_dir = spool_dir
        self._buf = bytearray()
        self._file = None
        self.spool_path = None

    def write(self, chunk):
        self.size += len(chunk)
        if self._file is None and len(self._buf) + len(chunk) > self._threshold:
            self.spool_path = _new_spool_path(self._spool_dir)
            self._file = open(self.spool_path, "wb")
            self._file.write(self._buf)
            self._buf = None
        if self._file is not None:
            self._file.write(chunk)
        else:
            self._buf += chunk

    def close(self):
        if self._file:
            self._file.close()
            self._file = False

    def read(self):
        """The whole content as bytes (from memory, or from the spool file)."""
        if self.spool_path is None:
            return bytes(self._buf)
        with open(self.spool_path, "rb") as f:
            return f.read()

    def save(self, path):
        """Store the upload at ``path`` (a spooled upload is moved, not copied)."""
        if self.spool_path is None:
            with open(path, "wb") as f:
                f.write(self._buf)
            return
        try:
            os.rename(self.spool_path, path)
        except OSError:
            buf = bytearray(512)
            with open(self.spool_path, "rb") as src, open(path, "wb") as dst:
                while True:
                    n = src.readinto(buf)
                    if not n:
                        break
                    dst.write(memoryview(buf)[:n])
            os.remove(self.spool_path)
        self.spool_path = None
        self._buf = b""

    def discard(self):
        """Close and remove the spool file, if any (done when the request is answered)."""
        self.close()
        if self.spool_path is not None:
            try:
                os.remove(self.spool_path)
            except OSError:
                pass
            self.spool_path = None


class FormParser:
    """Push parser: ``feed(chunk)`` as the body arrives, then ``finish()``. Raises ValueError on
    a malformed body. Fields land in ``form``; files go to ``sink(part)`` objects."""

    def __init__(self, boundary, sink, max_parts, max_field):
        self.delim = b"\r\n--" + boundary
        self.buf = b"\r\n"
        self.state = _PREAMBLE
        self.sink = sink
        self.max_parts = max_parts
        self.max_field = max_field
        self.parts = 0
        self.form = MultiDict()
        self.files = MultiDict()
        self.part = None

    def feed(self, data):
        buf = self.buf + data if self.buf else bytes(data)
        delim = self.delim
        while True:
            state = self.state
            if state == _BODY or state == _PREAMBLE:
                pos = buf.find(delim)
                if pos < 0:
                    keep = len(delim) - 1
                    if len(buf) > keep:
                        if state == _BODY:
                            self._data(buf[: len(buf) - keep])
                        buf = buf[len(buf) - keep :]
                    break
                if state == _BODY:
                    self._data(buf[:pos])
                    self._end_part()
                buf = buf[pos + len(delim) :]
                self.state = _DELIM
            elif state == _DELIM:
                if len(buf) < 2:
                    break
                if buf[:2] == b"--":
                    self.state = _DONE
                    buf = b""
                    break
                if buf[:2] != b"\r\n":
                    raise ValueError("bad boundary line")
                buf = buf[2:]
                self.state = _HEADERS
            elif state == _HEADERS:
                if buf[:2] == b"\r\n":
                    end, skip = 0, 2
                else:
                    end, skip = buf.find(b"\r\n\r\n"), 4
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        raise ValueError("part headers too long")
                    break
                self._start_part(bytes(buf[:end]))
                buf = buf[end + skip :]
                self.state = _BODY
            else:
                buf = b""
                break
        self.buf = buf

    def finish(self):
        if self.state != _DONE:
            raise ValueError("body ends before the closing boundary")
        return self.form, self.files

    def _start_part(self, head):
        self.parts += 1
        if self.parts > self.max_parts:
            raise OverflowError("too many form parts")
        headers = {}
        for line in head.decode().split("\r\n"):
            name, colon, value = partition(line, ":")
            if not colon:
                raise ValueError("bad part header")
            headers[name.strip().lower()] = value.strip()
        kind, options = parse_options(headers.get("content-disposition", ""))
        if kind != "form-data" or "name" not in options:
            raise ValueError("part without form-data name")
        name = options["name"]
        if "filename" in options:
            sink = self.sink(name, options["filename"], headers.get("content-type"), headers)
            self.files.add(name, sink)
            self.part = (True, sink)
        else:
            self.part = (False, name, bytearray())

    def _data(self, chunk):
        if not chunk:
            return
        part = self.part
        if part[0]:
            part[1].write(chunk)
        else:
            if len(part[2]) + len(chunk) > self.max_field:
                raise OverflowError("form field too large")
            part[2].extend(chunk)

    def _end_part(self):
        part = self.part
        if part[0]:
            part[1].close()
        else:
            self.form.add(part[1], bytes(part[2]).decode())
        self.part = None


def spool_dir(request_class):
    """The folder large uploads are spooled to (``Request.upload_dir``)."""
    folder = request_class.upload_dir
    if folder is None:
        try:
            os.stat("/tmp")
            folder = "/tmp"
        except OSError:
            folder = ""
        request_class.upload_dir = folder
    return folder


def _parser(req, content_type, file_sink):
    boundary = parse_options(content_type)[1].get("boundary")
    if not boundary or len(boundary) > 70:
        refuse(400, "multipart body without a valid boundary", req)
    cls = type(req)

    def sink(name, filename, ctype, headers):
        if file_sink is not None:
            return file_sink(name, filename, ctype, headers)
        upload = FileUpload(name, filename, ctype, headers, cls.max_file_memory, spool_dir(cls))
        req.own(upload)
        return upload

    return FormParser(boundary.encode(), sink, cls.max_form_parts, cls.max_body_length)


def _feed(req, parser, data):
    try:
        parser.feed(data)
    except OverflowError as e:
        refuse(413, str(e), req)
    except (ValueError, UnicodeError) as e:
        refuse(400, "malformed multipart body: %s" % e, req)


def _finish(req, parser):
    try:
        form, files = parser.finish()
    except ValueError as e:
        refuse(400, "malformed multipart body: %s" % e, req)
    return form, files


def parse_body(req, content_type, body, file_sink=None):
    """Parse a multipart body already in memory; returns (form, files)."""
    parser = _parser(req, content_type, file_sink)
    _feed(req, parser, body)
    return _finish(req, parser)


async def read_stream(req, content_type, file_sink=None):
    """Parse a multipart body from ``req.stream`` (or ``req.body``) chunk by chunk."""
    body = req.body
    if body is not None:
        return parse_body(req, content_type, body, file_sink)
    parser = _parser(req, content_type, file_sink)
    stream = req.stream
    while True:
        chunk = await stream.read(1024)
        if not chunk:
            break
        _feed(req, parser, chunk)
    return _finish(req, parser)


def with_form_data(f):
    """Decorator (Microdot-compatible): read a streamed form body before calling ``f``, so
    ``request.form`` and ``request.files`` are ready."""
    is_async = endpoint_info(f)[1]

    async def wrapper(request, *args, **kwargs):
        await request.read_form()
        r = f(request, *args, **kwargs)
        if is_async:
            r = await r
        return r

    return Wrapped(wrapper, f)
