# The App: route registration, hooks, error handling, and App.handle, the function the C loop
# calls with each request. The request's life (hooks, view, response) is written once, in _live;
# a request whose hooks and view are all sync is answered with no awaitable at all.
import sys

from _kiln import reason as _reason
from _kiln import route_match as _route_match
from micropython import const

from kiln.request import G, Request
from kiln.response import JSON_HEADERS, TEXT, TEXT_HEADERS, HTTPException, Response, slash_location
from kiln.routing import Router, is_async, last_match, urlencode

# Speed: every request looks names up in this module's dict, and MicroPython grows a dict only
# when it is full: with 54 names in its 59 slots a served hello measured 30.5k instructions, with
# 50 28.7k (bench/framework.py). A change of qstr numbering alone (a new name anywhere in the
# frozen modules) can move the figure about as much, so add module-level names sparingly and
# measure.

current_app = None

# Where _live (below) starts or resumes: before the before_request hooks (value: what the last one
# returned), at the answer of the view or of a before hook (value), or before after_request hook
# i (value: what hook i - 1 returned, res: the response so far).
_BEFORE = const(0)
_ANSWERED = const(1)
_AFTER = const(2)


class Unanswerable(TypeError):
    """A view (or hook) returned a value Kiln cannot send; args[0] names its type."""


def make_response(r):
    """Turn what a handler returned into a Response."""
    t = _type(r)
    if t is _str or t is _bytes:
        res = _bare(Response)  # status_code: the class's 200
        _store(res, "body", r)
        return res
    if t is _tuple:
        return _from_tuple(r)
    if t is _int:
        return Response("", _sendable(r, True))
    if _isinstance(r, Response):
        return r
    return Response(_sendable(r))


def _from_tuple(r):
    if len(r) == 1:
        return Response("", _sendable(r[0], True)) if type(r[0]) is int else Response(_sendable(r[0]))
    if type(r[1]) is int:
        return Response(_sendable(r[0]), _sendable(r[1], True), r[2] if len(r) > 2 else None)
    return Response(_sendable(r[0]), 200, r[1])


def _sendable(value, status=False):
    # A status the C loop sends (200-599: 1xx are its own interim answers), or a body it sends
    # (kiln.server.start_server) or a dict or list (JSON); else Unanswerable.
    t = _type(value)
    if status:
        if 200 <= value <= 599:
            return value
        raise Unanswerable("int %d" % value)
    if t is _str or t is _bytes or t is _dict or t is _list or value is None or t is bytearray \
            or t is memoryview:
        return value
    for name in ("readinto", "__next__", "__iter__", "__aiter__", "__anext__"):
        if hasattr(value, name):
            return value
    raise Unanswerable(t.__name__)


class App:
    """A web application: routes, hooks, error handlers; ``run()`` serves it."""

    # What _exception answers for a client that left during the body: nothing is sent (the
    # connection is closed), and the access log leaves it out.
    _client_left = (400, TEXT_HEADERS, "")

    #: What views get is an instance of a class the app derives from this one (a subclass of
    #: ``kiln.Request``), so ``isinstance(request, request_class)`` holds and its methods,
    #: properties and class attributes apply.
    request_class = Request

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
        # the app's hooks as tuples of (function, is_coroutine_function), None without any
        self._before = None
        self._after = None
        # no before_request or after_request hook: App.handle calls a sync view itself
        self._plain = True
        # the class the server makes requests of; what the hot path reads of a request is found in
        # the first class it searches
        self._request = type("Request", (self.request_class,), {"app": self, "url_args": None,
                                                                "_after": None, "_owned": None})
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
        handlers.append((f, is_async(f)))
        self._before = tuple(self.before_request_handlers) or None
        self._after = tuple(self.after_request_handlers) or None
        self._plain = self._before is None and self._after is None
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
            self.error_handlers[status_code_or_exception_class] = (f, is_async(f))
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

    # handle() runs for every request. Each function on its way keeps few locals and a shallow
    # stack: the MicroPython VM puts a frame of more than 11 words (locals and stack) on the
    # heap, which costs far more than the code itself once garbage has piled up between
    # collections (handle calling _live with 7 arguments cost 5.4k instructions per in-process
    # hello, bench/framework.py). _live's defaults keep its callers' calls short.

    def handle(self, creq):
        """Answer one request (an instance of ``_request``, this app's request class, as the
        server makes it): returns (status, headers, body) or an awaitable of it."""
        ep = self._static.get(creq.path)
        if ep is None:
            return self._dynamic(creq)
        ep = ep.get(creq.method)
        if ep is None or creq.content_length is not None:
            return self._general(creq)
        if not ep.sync or not self._plain:
            return _live(self, creq, ep)
        # No hook applies and the view is sync: the life starts at the view's answer.
        r = _call(ep.func, creq)
        if _type(r) is _str and creq._after is None:
            # a view that returns the same str object (a constant) gets the same tuple back
            if ep.last is None or ep.last[2] is not r:
                ep.last = (200, TEXT_HEADERS, r)
            return ep.last
        return _answered(self, creq, r)

    def _dynamic(self, creq):
        # Router.match and Router.args without their frames (-2,400 instructions a request): m is
        # last_match, [entry, argument]
        m = _route_match(self.router, creq.path, last_match)
        if m is None:
            return self._no_route(creq, None)
        ep = m[0][0].get(creq.method)
        if ep is None or creq.content_length is not None:
            return self._general(creq)
        m = m[0]
        creq.url_args = last_match[1] if m[1] is None else {m[2]: last_match[1]}
        if not ep.sync or not self._plain:
            return _live(self, creq, ep)
        return _answered(self, creq, _call_args(ep, creq))

    def _general(self, creq):
        # HEAD served by GET, 405, 404, the trailing-slash redirect, a body over the limit
        methods, args = self.router.find(creq.path)
        if methods is None:
            return self._no_route(creq, None)
        ep = methods.get(creq.method)
        if ep is None and creq.method == "HEAD":
            ep = methods.get("GET")
        if ep is None:
            return self._no_route(creq, methods)
        req = creq
        if args is not None:
            req.url_args = args
        length = req.content_length
        if length is not None and length > req.max_content_length:
            return self._error(req, 413, None, "body of %d bytes is over the limit" % length)
        return _live(self, req, ep)

    def _hooks(self, req, attr):
        hooks = getattr(self, attr)
        sub = req.subapp
        if sub is not None:
            local = getattr(sub, attr)
            hooks = hooks + local if attr == "before_request_handlers" else local + hooks
        return hooks

    def _no_route(self, creq, methods):
        req = creq
        method = creq.method
        if methods is not None:
            allow = self._allow(methods)
            if method == "OPTIONS":
                # answered as a view would be: the after_request hooks run
                return _live(self, req, _NO_ENDPOINT, _AFTER, 0, None, Response("", 204, {"Allow": allow}))
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
            f, awaited = handler
            try:
                res = f(req)
                if awaited:
                    res = await res
                res = make_response(res)
            except Exception as e:  # noqa: BLE001
                sys.print_exception(e)
                res = None
        if res is None:
            res = Response(reason or _reason(status) or "Error", status, headers)
        elif headers:
            for k, v in headers.items():
                res.headers.setdefault(k, v)
        return await self._finish_error(req, res)

    async def _finish_error(self, req, res):
        # the after_error_request hooks: one failing is logged, the others still run
        if req._owned is not None:
            _release(req)
        for f, awaited in self._hooks(req, "after_error_request_handlers"):
            try:
                x = f(req, res)
                if awaited:
                    x = await x
                res = _kept_or_replaced(req, res, x)
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
        if type(exc) is EOFError and req.stream is not None:
            # the streamed body's read found the connection closed: nobody is left to answer
            print("Kiln: the client left during the body (%s %s)" % (req.method, req.path))
            if req._owned is not None:
                _release(req)
            req.stream.close()
            return self._client_left
        if type(exc) is Unanswerable:
            print("Kiln: %s %s returned %s" % (req.method, req.path, exc.args[0]))
            return await self._error_response(req, 500, None)
        best = None
        for app in (req.subapp, self):
            if app is None or best is not None:
                continue
            for key, handler in app.error_handlers.items():
                if type(key) is not int and isinstance(exc, key):
                    if best is None or issubclass(key, best[0]):
                        best = (key, handler)
        if best is not None:
            f, awaited = best[1]
            try:
                res = f(req, exc)
                if awaited:
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
        if r is not self._client_left:
            print("%s %s %d" % (method, target, r[0]))
        return r

    def _handler(self, debug, config):
        global current_app
        current_app = self
        if debug:
            self.debug = True
        config["request_class"] = self._request
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
        """Serve until interrupted, or until ``shutdown()`` (blocking). ``ssl=ctx`` (an
        ``ssl.SSLContext`` with its certificate chain loaded) serves HTTPS; the other keywords
        are ``kiln.server.start_server``'s."""
        from kiln import server

        try:
            server.run(self._handler(debug, config), host, port, self._started, **config)
        finally:
            self.server = None

    def _started(self, server):
        self.server = server

    def shutdown(self):
        """Stop the server of ``run()`` or ``start_server``: it closes once the current
        asyncio step is done, so a view calling this still sends its response."""
        server = self.server
        if server is not None:
            import asyncio

            async def close():
                server.close()

            asyncio.create_task(close())


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
_bare = object.__new__  # an instance without calling __init__
try:
    # Stores an attribute without the lookups of the class's properties and __setattr__ that a
    # store to a Response pays (it has a property): -700 instructions per response with an
    # after_request hook (bench/framework.py).
    _store = object.__setattr__
except AttributeError:  # a port without MICROPY_PY_DELATTR_SETATTR looks neither up
    _store = setattr


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

# _call and _call_args return what the view returned, or the Exception raised. Their frames
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
            return ep.rule.caller(ep.func, req, last_match[1])
        except Exception:  # noqa: BLE001
            return _exc_info()[1]

else:

    def _call(f, req):
        with _GUARD:
            return f(req)
        return _caught()

    def _call_args(ep, req):
        with _GUARD:
            return ep.rule.caller(ep.func, req, last_match[1])
        return _caught()


# what _live reads of the endpoint of a request no route answers (OPTIONS)
_NO_ENDPOINT = type("NoEndpoint", (), {"local": None})()


def _answered(app, req, r):
    # the life of a request no hook applies to (nor a local sub-app's), from its sync view's
    # answer
    if req._after is None and req._owned is None:
        t = _type(r)
        if t is _str or t is _bytes:
            return (200, TEXT_HEADERS, r)
        if t is _dict or t is _list:
            return (200, JSON_HEADERS, r)  # the loop writes it as JSON
        if _isinstance(r, Response) and r.prepare is not None:
            t = r._answer(req)
            if t is not None:
                return t
    if _isinstance(r, _Exception):
        return app._exception(req, r)
    return _live(app, req, _NO_ENDPOINT, _ANSWERED, 0, r)


async def _resume(app, req, ep, stage, i, pending, res):
    # What _live hands to asyncio: awaits the hook's or view's coroutine, then the same life
    # goes on from where it stopped (and may come back here at the next coroutine).
    try:
        value = await pending
    except Exception as e:  # noqa: BLE001 - every failure becomes an error response
        return await app._exception(req, e)
    r = _live(app, req, ep, stage, i, value, res)
    return r if _type(r) is _tuple else await r


def _live(app, req, ep, stage=_BEFORE, i=0, value=None, res=None, _type=_type, _str=_str,
          _len=_len, _bare=_bare, G=G, Response=Response, _store=_store, TEXT=TEXT,
          TEXT_HEADERS=TEXT_HEADERS):
    # The request's life, written once for sync and async hooks and views, from `stage`:
    # before_request hooks (the app's, then a local sub-app's) until one answers, else the view;
    # the answer made a Response and prepared; after_request hooks (the sub-app's, the app's,
    # then the request's own), each may replace it; the (status, headers, body) tuple. A hook or
    # view that is a coroutine function returns a coroutine: _resume awaits it and calls _live
    # again from where it stopped. What is raised goes to App._exception. Returns the tuple, or
    # an awaitable of it.
    # The module globals it reads are defaults (locals): a global lookup costs ~130 instructions
    # here, and a request with hooks made 11 (-1.1k of 43k, bench/framework.py served full).
    try:
        if stage == _BEFORE:
            if ep.local is not None:
                req.subapp = ep.local
                hooks = app._hooks(req, "before_request_handlers")
            else:
                hooks = app._before
            if i == 0:
                # g is made up front: hooks nearly always use it, and request.__getattr__
                # costs more
                req.g = _bare(G)
            if hooks is not None:
                n = _len(hooks)
                while value is None and i < n:
                    f = hooks[i]
                    i += 1
                    value = f[0](req)
                    if f[1]:
                        return _resume(app, req, ep, _BEFORE, i, value, None)
            if value is None:
                if req.url_args is None:
                    value = ep.func(req)
                else:
                    value = ep.rule.call(ep.func, req, req.url_args)
                if ep.is_async:
                    return _resume(app, req, ep, _ANSWERED, 0, value, None)
            stage = _ANSWERED
        if stage == _ANSWERED:
            if app._after is None and ep.local is None and req._after is None \
                    and req._owned is None:
                # nothing runs after: a str, bytes, dict or list answer is the tuple at once
                f = _type(value)
                if f is _str or f is _bytes:
                    return (200, TEXT_HEADERS, value)
                if f is _dict or f is _list:
                    return (200, JSON_HEADERS, value)
            # make_response, written out for the common case: a str
            if _type(value) is _str:
                res = _bare(Response)  # status_code: the class's 200
                _store(res, "body", value)
            else:
                res = make_response(value)
                if res.prepare is not None:
                    res.prepare(req)
            value = None
            i = 0
        hooks = app._after if ep.local is None else app._hooks(req, "after_request_handlers")
        n = 0 if hooks is None else _len(hooks)
        while True:
            if value is not None and value is not res:
                # most hooks return None or the response: the call is saved for them
                res = _kept_or_replaced(req, res, value)
            if i < n:
                f = hooks[i]
                i += 1
                value = f[0](req, res)
                if f[1]:
                    return _resume(app, req, ep, _AFTER, i, value, res)
                continue
            # the request's own hooks (Request.after_request), read after the app's ran
            f = req._after
            if f is None or i - n >= _len(f):
                break
            f = f[i - n]
            i += 1
            value = f(req, res)
            if is_async(f):
                return _resume(app, req, ep, _AFTER, i, value, res)
        # to_tuple, written out for the common case: a plain Response with no header set
        if _type(res) is Response and res._headers is None and res.cookies is None \
                and res.default_content_type is TEXT:
            res = (res.status_code, TEXT_HEADERS, res.body)
        else:
            res = res.to_tuple()
        if req._owned is not None:
            _release(req)
        return res
    except Exception as e:  # noqa: BLE001 - every failure becomes an error response
        return app._exception(req, e)


def _kept_or_replaced(req, res, x):
    # The rule for what an after hook returns: None, the response itself or a falsy value keeps
    # the response (as in Microdot); anything else a view may return replaces it, made into a
    # Response and prepared (a send_file answers Range and If-None-Match).
    if x is None or x is res or not x:
        return res
    res = make_response(x)
    if res.prepare is not None:
        res.prepare(req)
    return res


def _release(req):
    # discard() what the request owns (Request.own), once, on success or error
    owned = req._owned
    req._owned = None
    for obj in owned:
        obj.discard()


def _exc_line(exc):
    return "%s: %s" % (type(exc).__name__, exc) if exc.args else type(exc).__name__


def url_for(endpoint, **params):
    """``url_for`` of the app being served (or the first App created)."""
    if current_app is None:
        raise RuntimeError("url_for: no App exists")
    return current_app.url_for(endpoint, **params)

