# The App: route registration, hooks, error handling, and App.handle, the function the C loop
# calls with each request. A sync handler with sync hooks is answered with no awaitable at all.
import json
import sys

from kiln.request import G, Request
from kiln.response import JSON_HEADERS, TEXT, TEXT_HEADERS, HTTPException, Response, slash_location
from kiln.routing import Router, endpoint_info, urlencode

_REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
    415: "Unsupported Media Type", 416: "Range Not Satisfiable", 500: "Internal Server Error",
}

current_app = None


def make_response(r):
    """Turn what a handler returned into a Response."""
    t = _type(r)
    if t is _str or t is _bytes:
        res = _bare(Response)
        res.status_code = 200
        res.body = r
        return res
    if t is _tuple:
        return _from_tuple(r)
    if t is _int:
        return Response("", r)
    if _isinstance(r, Response):
        return r
    return Response(r)


def _from_tuple(r):
    if len(r) == 1:
        return Response("", r[0]) if type(r[0]) is int else Response(r[0])
    if type(r[1]) is int:
        return Response(r[0], r[1], r[2] if len(r) > 2 else None)
    return Response(r[0], 200, r[1])


class App:
    """A web application: routes, hooks, error handlers; ``run()`` serves it."""

    def __init__(self, name=None, debug=False, access_log=False):
        global current_app
        self.name = name
        self.debug = debug
        self.access_log = access_log
        self.router = Router()
        self._static = self.router.static
        self.before_request_handlers = []
        self.after_request_handlers = []
        self.after_error_request_handlers = []
        self.error_handlers = {}
        self._async_hooks = False
        self._before = None
        self._after = None
        # None without hooks (App.handle calls the view itself), else the function that runs
        # hooks and view: _call_hooked, or _call_dispatch when a hook is a coroutine function
        self._hooked = None
        # what the hot path reads of a request, found in the first class it searches
        self._request = type("Request", (Request,), {"app": self, "url_args": None, "_after": None,
                                                     "_owned": None})
        self.template_folder = "templates"
        self.server = None
        if current_app is None:
            current_app = self

    # --- registration ------------------------------------------------------------------------

    def route(self, url_pattern, methods=None, endpoint=None):
        """Decorator: serve ``url_pattern`` with the function for ``methods`` (default GET).

        Patterns may hold ``<name>``, ``<int:name>``, ``<path:name>``, ``<re:regex:name>`` and
        registered converters; their values are passed as keyword arguments."""

        def decorated(f):
            self.router.add(url_pattern, methods or ("GET",), f, endpoint)
            return f

        return decorated

    def get(self, url_pattern, endpoint=None):
        """Shortcut for ``route(url_pattern, methods=['GET'])``."""
        return self.route(url_pattern, ("GET",), endpoint)

    def post(self, url_pattern, endpoint=None):
        """Shortcut for ``route(url_pattern, methods=['POST'])``."""
        return self.route(url_pattern, ("POST",), endpoint)

    def put(self, url_pattern, endpoint=None):
        """Shortcut for ``route(url_pattern, methods=['PUT'])``."""
        return self.route(url_pattern, ("PUT",), endpoint)

    def patch(self, url_pattern, endpoint=None):
        """Shortcut for ``route(url_pattern, methods=['PATCH'])``."""
        return self.route(url_pattern, ("PATCH",), endpoint)

    def delete(self, url_pattern, endpoint=None):
        """Shortcut for ``route(url_pattern, methods=['DELETE'])``."""
        return self.route(url_pattern, ("DELETE",), endpoint)

    def _hook(self, handlers, f):
        is_async = endpoint_info(f)[1]
        self._async_hooks = self._async_hooks or is_async
        handlers.append((f, is_async))
        self._before = tuple(h for h, _ in self.before_request_handlers) or None
        self._after = tuple(h for h, _ in self.after_request_handlers) or None
        self._hooked = _call_dispatch if self._async_hooks else _call_hooked
        return f

    def before_request(self, f):
        """Register ``f(request)``; a non-None return value is the response (the handler is
        skipped)."""
        return self._hook(self.before_request_handlers, f)

    def after_request(self, f):
        """Register ``f(request, response)``, run after each handled request; it may return a
        new response (anything a handler may return), or None (or another falsy value) to keep
        this one."""
        return self._hook(self.after_request_handlers, f)

    def after_error_request(self, f):
        """Register ``f(request, response)``, run after each error response (404, 500...)."""
        return self._hook(self.after_error_request_handlers, f)

    def errorhandler(self, status_code_or_exception_class):
        """Decorator: ``f(request)`` answers a status code; ``f(request, exc)`` answers an
        exception class (and its subclasses)."""

        def decorated(f):
            self.error_handlers[status_code_or_exception_class] = (f, endpoint_info(f)[1])
            return f

        return decorated

    def mount(self, subapp, url_prefix="", local=False):
        """Serve every route of ``subapp`` under ``url_prefix``. Its hooks and error handlers
        join this app's, or with ``local=True`` apply only to the sub-app's own routes."""
        url_prefix = url_prefix.rstrip("/")
        for pattern, rule in subapp.router.rules.items():
            for method, ep in rule.methods.items():
                name = subapp.name + "." + ep.name if subapp.name else ep.name
                added = self.router.add(url_prefix + pattern, (method,), ep.func, name)
                if local:
                    added.local = subapp
                    added.sync = False
        if local:
            return
        for attr in ("before_request_handlers", "after_request_handlers",
                     "after_error_request_handlers"):
            for f, _ in getattr(subapp, attr):
                self._hook(getattr(self, attr), f)
        for key, value in subapp.error_handlers.items():
            self.error_handlers.setdefault(key, value)

    def url_for(self, endpoint, **params):
        """Build the URL of an endpoint; parameters not in the route become the query string."""
        ep = self.router.endpoints.get(endpoint)
        if ep is None:
            raise ValueError("url_for: no endpoint named %r" % endpoint)
        url = ep.rule.build(params)
        if params:
            url += "?" + urlencode(params)
        return url

    def static(self, url_prefix, root, **options):
        """Serve the files under folder ``root`` at ``url_prefix`` (see kiln.static)."""
        from kiln.static import mount_static

        mount_static(self, url_prefix, root, **options)

    # --- serving -----------------------------------------------------------------------------

    # The sync path below runs for most requests. Each function in it keeps few locals: the
    # MicroPython VM puts a frame of more than 11 words on the heap, which costs far more than
    # the code itself once garbage has piled up between collections.

    def handle(self, creq):
        """Answer one C request: returns (status, headers, body) or an awaitable of it."""
        ep = self._static.get(creq.path)
        if ep is None:
            return self._dynamic(creq)
        ep = ep.get(creq.method)
        if ep is None or not ep.sync or creq.content_length is not None:
            return self._general(creq)
        creq._class = self._request
        if self._hooked is not None:
            ep = self._hooked(creq, ep)
            if _type(ep) is _tuple or not _isinstance(ep, _Exception):
                return ep
            return self._exception(creq, ep)
        r = _call(ep.func, creq)
        if _type(r) is _str and creq._after is None:
            # a view that returns the same str object (a constant) gets the same tuple back
            if ep.last is None or ep.last[2] is not r:
                ep.last = (200, TEXT_HEADERS, r)
            return ep.last
        return self._end(creq, r)

    def _dynamic(self, creq):
        m = self.router.find_dynamic(creq.path)
        if m is None:
            return self._no_route(creq, None)
        ep = m[0].get(creq.method)
        if ep is None or not ep.sync or creq.content_length is not None:
            return self._general(creq)
        creq._class = self._request
        creq.url_args = m[1]
        if self._hooked is not None:
            return self._run(creq, ep, self._hooked)
        return self._end(creq, _call_args(ep, creq))

    def _general(self, creq):
        methods, args = self.router.find(creq.path)
        if methods is None:
            return self._no_route(creq, None)
        ep = methods.get(creq.method)
        if ep is None and creq.method == "HEAD":
            ep = methods.get("GET")
        if ep is None:
            return self._no_route(creq, methods)
        return self._slow(_new(self._request, creq, args), ep)

    def _run(self, req, ep, run):
        r = run(req, ep)
        if _type(r) is _tuple or not _isinstance(r, _Exception):
            return r
        return self._exception(req, r)

    def _end(self, req, r):
        if req._after is None and req._owned is None:
            t = _type(r)
            if t is _str or t is _bytes:
                return (200, TEXT_HEADERS, r)
            if t is _dict or t is _list:
                return (200, JSON_HEADERS, _dumps(r))  # MicroPython's dumps raises no TypeError
        return self._finish(req, r)

    def _finish(self, req, r):
        if not _isinstance(r, _Exception):
            r = _call_respond(req, r)
            if _type(r) is _tuple:
                return r
        return self._exception(req, r)

    def _slow(self, req, ep):
        length = req.content_length
        if length is not None and length > req.max_content_length:
            return self._error(req, 413, None, "body of %d bytes is over the limit" % length)
        if ep.sync:
            return self._run(req, ep, self._hooked or _call_hooked)
        return self._dispatch(req, ep, req.url_args)

    def _hooks(self, req, attr):
        hooks = getattr(self, attr)
        sub = req.subapp
        if sub is not None:
            local = getattr(sub, attr)
            hooks = hooks + local if attr == "before_request_handlers" else local + hooks
        return hooks

    async def _dispatch(self, req, ep, args):
        req.subapp = ep.local
        try:
            r = None
            for f, is_async in self._hooks(req, "before_request_handlers"):
                r = f(req)
                if is_async:
                    r = await r
                if r is not None:
                    break
            else:
                r = ep.rule.caller(ep.func, req, args) if args else ep.func(req)
                if ep.is_async:
                    r = await r
            res = make_response(r)
            if res.prepare is not None:
                res.prepare(req)
            for f, is_async in self._hooks(req, "after_request_handlers"):
                x = f(req, res)
                if is_async:
                    x = await x
                if x is not None and x is not res and x:
                    res = _replaced(req, x)
            if req._after is not None:
                for f in req._after:
                    x = f(req, res)
                    if endpoint_info(f)[1]:
                        x = await x
                    if x is not None and x is not res and x:
                        res = _replaced(req, x)
            t = res.to_tuple()
            if req._owned is not None:
                _release(req)
            return t
        except Exception as e:  # noqa: BLE001 - every failure becomes an error response
            return await self._exception(req, e)

    def _no_route(self, creq, methods):
        req = _new(self._request, creq, None)
        method = creq.method
        if methods is not None:
            allow = self._allow(methods)
            if method == "OPTIONS":
                return self._options(req, allow)
            return self._error(req, 405, {"Allow": allow})
        path = creq.path
        if not path.endswith("/"):
            alt = path + "/"
            if alt in self._static or self.router.find(alt)[0] is not None:
                return self._finish_error(req, Response("", 308, {"Location": slash_location(creq.target)}))
        return self._error(req, 404)

    def _allow(self, methods):
        allow = list(methods)
        if "GET" in methods and "HEAD" not in methods:
            allow.append("HEAD")
        if "OPTIONS" not in methods:
            allow.append("OPTIONS")
        return ", ".join(allow)

    async def _options(self, req, allow):
        try:
            res = Response("", 204, {"Allow": allow})
            for f, is_async in self.after_request_handlers:
                x = f(req, res)
                if is_async:
                    x = await x
                if x is not None and x is not res and x:
                    res = _replaced(req, x)
            return res.to_tuple()
        except Exception as e:  # noqa: BLE001
            return await self._exception(req, e)

    async def _error(self, req, status, headers=None, log=None):
        if log:
            print("Kiln: %d %s (%s %s)" % (status, log, req.method, req.path))
        return await self._error_response(req, status, None, headers)

    async def _error_response(self, req, status, reason, headers=None):
        handler = None
        if req.subapp is not None:
            handler = req.subapp.error_handlers.get(status)
        if handler is None:
            handler = self.error_handlers.get(status)
        res = None
        if handler is not None:
            f, is_async = handler
            try:
                res = f(req)
                if is_async:
                    res = await res
                res = make_response(res)
            except Exception as e:  # noqa: BLE001
                sys.print_exception(e)
                res = None
        if res is None:
            res = Response(reason or _REASONS.get(status, "Error"), status, headers)
        elif headers:
            for k, v in headers.items():
                res.headers.setdefault(k, v)
        return await self._finish_error(req, res)

    async def _finish_error(self, req, res):
        if req._owned is not None:
            _release(req)
        for f, is_async in self._hooks(req, "after_error_request_handlers"):
            try:
                x = f(req, res)
                if is_async:
                    x = await x
                if x is not None and x is not res and x:
                    res = _replaced(req, x)
            except Exception as e:  # noqa: BLE001
                sys.print_exception(e)
        try:
            return res.to_tuple()
        except ValueError as e:
            print("Kiln: error response refused: %s" % e)
            return (500, TEXT_HEADERS, "Internal Server Error")

    async def _exception(self, req, exc):
        if isinstance(exc, HTTPException):
            return await self._error_response(req, exc.status_code, exc.reason)
        best = None
        for app in (req.subapp, self):
            if app is None or best is not None:
                continue
            for key, handler in app.error_handlers.items():
                if type(key) is not int and isinstance(exc, key):
                    if best is None or issubclass(key, best[0]):
                        best = (key, handler)
        if best is not None:
            f, is_async = best[1]
            try:
                res = f(req, exc)
                if is_async:
                    res = await res
                return await self._finish_error(req, make_response(res))
            except Exception as e:  # noqa: BLE001
                print("Kiln: the error handler of %s failed" % type(exc).__name__)
                sys.print_exception(e)
        print("Kiln: 500 %s %s: %s" % (req.method, req.path, _exc_line(exc)))
        if not isinstance(exc, MemoryError):
            # a MemoryError's traceback says nothing more, and would need the heap that ran out
            sys.print_exception(exc)
        reason = None
        if self.debug:
            import io

            buf = io.StringIO()
            sys.print_exception(exc, buf)
            reason = "Internal Server Error\n\n" + buf.getvalue()
        return await self._error_response(req, 500, reason)

    def _logged(self, creq):
        method = creq.method
        target = creq.target
        r = self.handle(creq)
        if type(r) is tuple:
            print("%s %s %d" % (method, target, r[0]))
            return r
        return self._log_async(method, target, r)

    async def _log_async(self, method, target, r):
        r = await r
        print("%s %s %d" % (method, target, r[0]))
        return r

    def _handler(self, debug, config):
        global current_app
        current_app = self
        if debug:
            self.debug = True
        config.setdefault("max_body", self._request.max_content_length)
        config.setdefault("body_in_memory", self._request.max_body_length)
        return self._logged if self.access_log else self.handle

    async def start_server(self, host="0.0.0.0", port=5000, debug=False, **config):
        """Start serving as an asyncio task; returns the server (``close()``,
        ``await wait_closed()``)."""
        from kiln import server

        self.server = await server.start_server(self._handler(debug, config), host, port, **config)
        return self.server

    def run(self, host="0.0.0.0", port=5000, debug=False, **config):
        """Serve until interrupted (blocking)."""
        from kiln import server

        server.run(self._handler(debug, config), host, port, **config)

    def shutdown(self):
        """Stop a server started with ``start_server``."""
        if self.server is not None:
            self.server.close()


# Builtins are found by a linear search of a ROM table after a miss in the module's globals;
# the hot path reads these module globals instead.
_type = type
_str = str
_bytes = bytes
_dict = dict
_list = list
_tuple = tuple
_int = int
_len = len
_isinstance = isinstance
_Exception = Exception
_dumps = json.dumps
_bare = object.__new__  # an instance without calling __init__


class _Guard:
    # `with _GUARD:` keeps an Exception raised in its block instead of propagating it.
    exc = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if value is None:
            return False
        if isinstance(value, Exception):
            self.exc = value
            return True
        return False


_GUARD = _Guard()


def _caught():
    e = _GUARD.exc
    _GUARD.exc = None
    return e


try:
    from sys import exc_info as _exc_info
except ImportError:
    _exc_info = None

# The _call* functions return what the view (hooks...) returned, or the Exception raised. Their frames
# stay small enough for the C stack (a `try/except ... as e` frame goes on the heap): with
# sys.exc_info (MICROPY_PY_SYS_EXC_INFO) a plain `except` is enough, else the `with` guard does
# the same for two more calls.
if _exc_info is not None:

    def _call(f, req):
        try:
            return f(req)
        except Exception:  # noqa: BLE001 - handed to the error handling
            return _exc_info()[1]

    def _call_args(ep, req):
        try:
            return ep.rule.caller(ep.func, req, req.url_args)
        except Exception:  # noqa: BLE001
            return _exc_info()[1]

    def _call_hooked(req, ep):
        try:
            return _hooked(req.app, req, ep)
        except Exception:  # noqa: BLE001
            return _exc_info()[1]

    def _call_respond(req, r):
        try:
            return _respond(req.app, req, r)
        except Exception:  # noqa: BLE001
            return _exc_info()[1]

else:

    def _call(f, req):
        with _GUARD:
            return f(req)
        return _caught()

    def _call_args(ep, req):
        with _GUARD:
            return ep.rule.caller(ep.func, req, req.url_args)
        return _caught()

    def _call_hooked(req, ep):
        with _GUARD:
            return _hooked(req.app, req, ep)
        return _caught()

    def _call_respond(req, r):
        with _GUARD:
            return _respond(req.app, req, r)
        return _caught()


def _new(cls, creq, args):
    creq._class = cls
    if args is not None:
        creq.url_args = args
    return creq


def _call_dispatch(req, ep):
    return req.app._dispatch(req, ep, req.url_args)


def _hooked(app, req, ep):
    # before_request hooks, the view unless a hook answered, then the response as a tuple;
    # g is made up front: hooks nearly always use it, and request.__getattr__ costs more
    req.g = _bare(G)
    r = None
    hooks = app._before
    if hooks is not None:
        i = 0
        while i < _len(hooks):
            r = hooks[i](req)
            if r is not None:
                break
            i += 1
    if r is None:
        r = ep.func(req) if req.url_args is None else ep.rule.caller(ep.func, req, req.url_args)
    if app._after is None and req._after is None and req._owned is None:
        hooks = _type(r)
        if hooks is _str or hooks is _bytes:
            return (200, TEXT_HEADERS, r)
        if hooks is _dict or hooks is _list:
            return (200, JSON_HEADERS, _dumps(r))
    return _respond(app, req, r)


def _respond(app, req, r):
    # the Response, prepared, through the after_request hooks (the app's, then the request's).
    # make_response, _after and to_tuple are written out for the common case: a str from the
    # view, the app's hooks, no headers (3k of the 45k instructions of such a served request)
    if _type(r) is _str:
        res = _bare(Response)
        res.status_code = 200
        res.body = r
    else:
        res = make_response(r)
        if res.prepare is not None:
            res.prepare(req)
    hooks = app._after
    if hooks is not None:
        i = 0
        while i < _len(hooks):
            r = hooks[i](req, res)
            if r is not None and r is not res and r:
                res = _replaced(req, r)
            i += 1
    if req._after is not None:
        res = _after(req._after, req, res)
    if _type(res) is Response and res._headers is None and res.cookies is None \
            and res.default_content_type is TEXT:
        res = (res.status_code, TEXT_HEADERS, res.body)
    else:
        res = res.to_tuple()
    if req._owned is not None:
        _release(req)
    return res


def _release(req):
    # discard() what the request owns (Request.own), once, on success or error
    owned = req._owned
    req._owned = None
    for obj in owned:
        obj.discard()


def _replaced(req, x):
    # what an after hook returned instead of the response (a falsy value keeps it, as in
    # Microdot): made into a Response and prepared (a send_file answers Range and If-None-Match)
    res = make_response(x)
    if res.prepare is not None:
        res.prepare(req)
    return res


def _after(hooks, req, res):
    # each hook may return a new response
    i = 0
    while i < _len(hooks):
        r = hooks[i](req, res)
        if r is not None and r is not res and r:
            res = _replaced(req, r)
        i += 1
    return res


def _exc_line(exc):
    return "%s: %s" % (type(exc).__name__, exc) if exc.args else type(exc).__name__


def url_for(endpoint, **params):
    """``url_for`` of the app being served (or the first App created)."""
    if current_app is None:
        raise RuntimeError("url_for: no App exists")
    return current_app.url_for(endpoint, **params)

