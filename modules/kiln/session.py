# Signed-cookie sessions: JSON payload + expiry, signed with HMAC-SHA256; several secrets may
# verify (rotation), the first one signs. Requests that never touch the session pay nothing.
import binascii
import hashlib
import json
import time

from kiln.routing import Wrapped, endpoint_info

# key -> its inner and outer padded keys: made once per key (a byte-by-byte loop in Python is
# most of an HMAC's cost), for the few keys an app signs with
_pads = {}


def _padded(key):
    pads = _pads.get(key)
    if pads is None:
        block = hashlib.sha256(key).digest() if len(key) > 64 else key
        block += bytes(64 - len(block))
        if len(_pads) >= 8:
            _pads.clear()
        pads = _pads[key] = (bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block))
    return pads


def hmac_sha256(key, msg):
    """HMAC-SHA256 of ``msg`` with ``key`` (both bytes)."""
    inner_key, outer_key = _padded(key)
    inner = hashlib.sha256(inner_key)
    inner.update(msg)
    outer = hashlib.sha256(outer_key)
    outer.update(inner.digest())
    return outer.digest()


# Worked on as bytes: each new str costs a search of MicroPython's interned strings (~2.4k
# instructions on unix), bytes do not.
def _b64(data):
    s = binascii.b2a_base64(data)
    n = len(s) - 1  # the "\n"
    while n and s[n - 1] == 61:  # "="
        n -= 1
    return s[:n].replace(b"+", b"-").replace(b"/", b"_")


def b64encode(data):
    """URL-safe base64 without padding, as str."""
    return _b64(data).decode()


def b64decode(s):
    """Inverse of b64encode (``s`` str or bytes); raises ValueError on bad input."""
    if type(s) is str:
        s = s.encode()
    s = s.replace(b"-", b"+").replace(b"_", b"/")
    return binascii.a2b_base64(s + b"=" * (-len(s) % 4))


def same(a, b):
    """Compare two bytes objects in time independent of where they differ."""
    if len(a) != len(b):
        return False
    # their digests are compared: where those differ says nothing of where a and b do (a loop
    # over the bytes in Python costs ~700 instructions a byte)
    return hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


class SessionDict(dict):
    """The session of one request: a dict; changes are saved in the response automatically
    (``save()`` forces it, ``delete()`` removes the session cookie)."""

    # class defaults: a store to an instance of a dict subclass costs ~850 instructions
    modified = False
    deleted = False
    kept = None

    def __init__(self, request, data):
        super().__init__()
        if data:
            super().update(data)
        self.request = request

    def __setitem__(self, key, value):
        self.modified = True
        self.deleted = False  # a value set after delete() starts a new session
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.modified = True
        super().__delitem__(key)

    def pop(self, key, *default):
        self.modified = True
        return super().pop(key, *default)

    def clear(self):
        self.modified = True
        super().clear()

    def update(self, other):
        self.modified = True
        self.deleted = False
        super().update(other)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def save(self):
        """Send the session cookie with this response."""
        self.modified = True

    def delete(self):
        """Clear the session and ask the client to drop its cookie."""
        super().clear()
        self.deleted = True

    def keep(self, key, value):
        """Save ``key: value`` with this response even if the session is cleared or deleted
        after this call (kiln.csrf keeps its token so)."""
        if self.kept is None:
            self.kept = {}
        self.kept[key] = value


class Session:
    """Signed-cookie sessions for an app.

    ``secret_key`` is a str/bytes or a list of them: the first signs, every one verifies (so a
    new key can be put first while old cookies stay valid). ``max_age`` (seconds) bounds a
    session's life; ``cookie_options`` are passed to ``set_cookie`` (path, secure, same_site...)."""

    cookie_name = "session"

    def __init__(self, app=None, secret_key=None, max_age=7 * 24 * 3600, cookie_options=None):
        self.secret_keys = []
        self.max_age = max_age
        self.cookie_options = {"path": "/", "http_only": True, "same_site": "Lax"}
        if app is not None:
            self.initialize(app, secret_key, cookie_options)
        elif secret_key is not None:
            self._set_keys(secret_key)

    def _set_keys(self, secret_key):
        keys = secret_key if type(secret_key) in (list, tuple) else [secret_key]
        self.secret_keys = [k.encode() if type(k) is str else bytes(k) for k in keys]
        if not all(self.secret_keys):
            raise ValueError("Session: a secret_key may not be empty")

    def initialize(self, app, secret_key=None, cookie_options=None):
        """Attach to ``app`` (``request.app.session`` finds it)."""
        if secret_key is not None:
            self._set_keys(secret_key)
        if cookie_options:
            self.cookie_options.update(cookie_options)
        app.session = self

    def encode(self, data, secret_key=None):
        """A signed token for ``data`` (a JSON-able dict), valid for ``max_age`` seconds."""
        if not self.secret_keys and secret_key is None:
            raise ValueError("Session: no secret_key set")
        payload = {"d": data}
        if self.max_age:
            payload["e"] = int(time.time()) + self.max_age
        body = _b64(json.dumps(payload).encode())
        key = secret_key.encode() if type(secret_key) is str else secret_key or self.secret_keys[0]
        return (body + b"." + _b64(hmac_sha256(key, body))).decode()

    def decode(self, token):
        """The data of a valid, unexpired token, or None (also for a signed payload of another
        shape than ``encode`` makes)."""
        token = token.encode()
        dot = token.rfind(b".")
        if dot < 0:
            return None
        # Compared as canonical encodings: only the signature encode() writes matches, not
        # other spellings of the same bytes (padding, trailing bits, "+/" for "-_").
        sig = token[dot + 1 :]
        msg = token[:dot]
        for key in self.secret_keys:
            if same(_b64(hmac_sha256(key, msg)), sig):
                break
        else:
            return None
        try:
            payload = json.loads(b64decode(msg))
        except (ValueError, TypeError, UnicodeError):
            return None
        if type(payload) is not dict:
            return None
        exp = payload.get("e")
        if exp is not None and type(exp) is not int:
            return None
        if self.max_age and (exp is None or exp > time.time() + self.max_age):
            return None  # issued without an expiry, or with a longer one than is allowed now
        if exp is not None and exp < time.time():
            return None
        return payload.get("d")

    def get(self, request):
        """The request's SessionDict (empty when the cookie is missing, forged or expired)."""
        s = request._session
        if s is not None:
            return s
        token = request.cookies.get(self.cookie_name)
        data = self.decode(token) if token else None
        s = SessionDict(request, data if type(data) is dict else {})
        request._session = s
        request.after_request(self._save)
        return s

    def _save(self, request, response):
        s = request._session
        if s.kept is not None:
            for key, value in s.kept.items():
                if s.get(key) != value:
                    s[key] = value
        if s.deleted:
            response.delete_cookie(self.cookie_name, path=self.cookie_options.get("path"),
                                   domain=self.cookie_options.get("domain"))
        elif s.modified:
            opts = dict(self.cookie_options)
            if self.max_age:
                opts["max_age"] = self.max_age
            response.set_cookie(self.cookie_name, self.encode({k: v for k, v in s.items()}), **opts)
        return response

    def update(self, request, session):
        """Microdot-compatible: save ``session`` (a dict) in this request's response."""
        s = self.get(request)
        if s is not session:
            s.clear()
            s.update(session)
        s.save()

    def delete(self, request):
        """Microdot-compatible: remove the session in this request's response."""
        self.get(request).delete()


def get_session(request):
    """The session of ``request`` (the app needs a ``Session``)."""
    store = getattr(request.app, "session", None)
    if store is None:
        raise RuntimeError("no Session attached to this app: Session(app, secret_key=...)")
    return store.get(request)


def with_session(f):
    """Decorator: call the view as ``f(request, session, ...)``."""
    is_async = endpoint_info(f)[1]
    if is_async:

        async def call(request, *args, **kwargs):
            return await f(request, get_session(request), *args, **kwargs)

        return Wrapped(call, f)

    def call_sync(request, *args, **kwargs):
        return f(request, get_session(request), *args, **kwargs)

    return Wrapped(call_sync, f, False)
