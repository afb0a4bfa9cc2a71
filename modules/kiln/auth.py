# Basic and bearer-token authentication as route decorators: ``@auth`` under ``@app.route``.
import binascii

from kiln.response import Response
from kiln.routing import Wrapped, endpoint_info
from kiln.text import partition


class BaseAuth:
    """Shared logic: ``@auth.authenticate`` registers the verifier; ``@auth`` protects a view
    (the verified user is ``request.g.current_user``); ``@auth.optional`` lets anonymous
    requests through with ``current_user = None``."""

    def __init__(self, error_status=401):
        self.error_status = error_status
        self._verify = None
        self._error = None

    def authenticate(self, f):
        """Register the verifier; it returns the user, or None to refuse."""
        self._verify = (f, endpoint_info(f)[1])
        return f

    def errorhandler(self, f):
        """Register ``f(request)`` giving the response for a refused request."""
        self._error = (f, endpoint_info(f)[1])
        return f

    async def _user(self, request):
        creds = self._credentials(request)
        if creds is None or self._verify is None:
            return None
        f, is_async = self._verify
        user = f(request, *creds)
        if is_async:
            user = await user
        return user if user else None

    async def _refuse(self, request):
        if self._error is not None:
            f, is_async = self._error
            r = f(request)
            return (await r) if is_async else r
        return self.refusal(request)

    def refusal(self, request):
        return Response("Unauthorized", self.error_status)

    def _wrap(self, f, optional):
        is_async = endpoint_info(f)[1]

        async def wrapper(request, *args, **kwargs):
            user = await self._user(request)
            if user is None and not optional:
                return await self._refuse(request)
            request.g.current_user = user
            r = f(request, *args, **kwargs)
            return (await r) if is_async else r

        return Wrapped(wrapper, f)

    def __call__(self, f):
        return self._wrap(f, False)

    def optional(self, f):
        """Decorator: authenticate when credentials are sent, else ``current_user = None``."""
        return self._wrap(f, True)


class BasicAuth(BaseAuth):
    """HTTP Basic authentication; the verifier is ``f(request, username, password)``."""

    def __init__(self, realm="Please login", charset="UTF-8", scheme="Basic", error_status=401):
        super().__init__(error_status)
        self.realm = realm
        self.charset = charset
        self.scheme = scheme

    def _credentials(self, request):
        value = request.headers.get("Authorization")
        if not value:
            return None
        scheme, _, data = partition(value, " ")
        if scheme.lower() != self.scheme.lower():
            return None
        try:
            text = binascii.a2b_base64(data.strip()).decode()
        except (ValueError, UnicodeError):
            return None
        user, colon, password = partition(text, ":")
        return (user, password) if colon else None

    def refusal(self, request):
        return Response("Unauthorized", self.error_status, {
            "WWW-Authenticate": '%s realm="%s", charset="%s"' % (self.scheme, self.realm, self.charset)})


class TokenAuth(BaseAuth):
    """Bearer-token authentication (``Authorization: Bearer <token>`` by default, or another
    header with ``scheme=None``); the verifier is ``f(request, token)``."""

    def __init__(self, header="Authorization", scheme="Bearer", error_status=401):
        super().__init__(error_status)
        self.header = header
        self.scheme = scheme

    def _credentials(self, request):
        value = request.headers.get(self.header)
        if not value:
            return None
        if self.scheme:
            scheme, _, token = partition(value, " ")
            if scheme.lower() != self.scheme.lower():
                return None
            value = token.strip()
        return (value,) if value else None

    def refusal(self, request):
        headers = {"WWW-Authenticate": self.scheme} if self.scheme and self.header == "Authorization" else None
        return Response("Unauthorized", self.error_status, headers)
