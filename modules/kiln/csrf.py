# CSRF protection for form posts: each unsafe request must echo a random token in a form field or
# a header. The token lives in the app's signed session when it has one (another site, even a
# sibling subdomain that can set cookies, cannot plant it), else in a cookie of its own (double
# submit). Requests a browser marks cross-site are refused outright.
import binascii
import os

from kiln.request import media_type, refuse
from kiln.session import same

_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class CSRF:
    """CSRF protection for an app: POST/PUT/PATCH/DELETE must carry the token of
    ``csrf.token(request)`` in the form field ``field_name`` or the header ``header_name``;
    requests a browser marks ``Sec-Fetch-Site: cross-site`` are refused (403) too.
    ``@csrf.exempt`` lifts the check from a view.

    With a ``kiln.session.Session`` on the app the token is kept in the session; without one
    it is kept in the cookie ``cookie_name``, which a site able to set cookies for this host
    (a sibling subdomain) could overwrite."""

    cookie_name = "csrf_token"
    field_name = "csrf_token"
    header_name = "X-CSRF-Token"

    def __init__(self, app=None):
        self.exempt_views = []
        if app is not None:
            self.initialize(app)

    def initialize(self, app):
        """Attach to ``app`` (a before_request hook)."""
        app.before_request(self.check)

    def exempt(self, f):
        """Decorator: no CSRF check for this view."""
        self.exempt_views.append(f)
        return f

    def token(self, request):
        """The token to put in forms (saved in the session, or a cookie, when new)."""
        session = _session(request)
        token = self._stored(request, session)
        if not token or len(token) != 32:
            token = getattr(request.g, "_csrf", None)
            if token is None:
                token = binascii.hexlify(os.urandom(16)).decode()
                request.g._csrf = token
                if session is None:
                    def set_cookie(req, response):
                        response.set_cookie(self.cookie_name, token, path="/", same_site="Strict")

                    request.after_request(set_cookie)
        if session is not None:
            session.keep("_csrf", token)  # even if the view then clears the session
        return token

    def _stored(self, request, session):
        return session.get("_csrf") if session is not None else request.cookies.get(self.cookie_name)

    def check(self, request):
        """Refuse an unsafe request without a valid token (403)."""
        if request.method not in _UNSAFE:
            return None
        if self.exempt_views:
            methods = request.app.router.find(request.path)[0]
            ep = methods.get(request.method) if methods else None
            f = ep.func if ep is not None else None
            while f is not None:  # the view, or a decorator's Wrapped around it
                if f in self.exempt_views:
                    return None
                f = getattr(f, "__wrapped__", None)
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            refuse(403, "CSRF: cross-site request refused", request)
        expected = self._stored(request, _session(request))
        sent = request.headers.get(self.header_name)
        if sent is None:
            kind = media_type(request.content_type)
            if kind == "application/x-www-form-urlencoded" or (
                    kind == "multipart/form-data" and request.body is not None):
                form = request.form
                sent = form.get(self.field_name) if form is not None else None
        if not expected or not sent or not same(expected.encode(), sent.encode()):
            refuse(403, "CSRF token missing or wrong", request)
        return None


def _session(request):
    store = getattr(request.app, "session", None)
    return store.get(request) if store is not None else None
