# CORS through the app's public hooks: headers on every response to a cross-origin request, and
# preflight answers on the automatic (or the app's own) OPTIONS responses.


def _vary(response, name):
    vary = response.headers.get("Vary")
    if not vary:
        response.headers["Vary"] = name
    elif name.lower() not in vary.lower():
        response.headers["Vary"] = vary + ", " + name


class CORS:
    """Cross-Origin Resource Sharing for an app.

    ``allowed_origins``: '*' or a list of origins; ``allow_credentials``: send
    Access-Control-Allow-Credentials (the origin is then echoed, never '*');
    ``allowed_methods`` / ``allowed_headers``: what preflights allow (default: the route's
    methods / the headers asked for); ``expose_headers``; ``max_age`` of a preflight."""

    def __init__(self, app=None, allowed_origins=None, allow_credentials=False,
                 allowed_methods=None, expose_headers=None, allowed_headers=None, max_age=None,
                 handle_cors=True):
        if type(allowed_origins) is str and allowed_origins != "*":
            allowed_origins = [allowed_origins]
        if allow_credentials and allowed_origins is not None and "*" in allowed_origins:
            # Echoing any origin with credentials lets every site read a user's responses.
            raise ValueError("CORS: allow_credentials needs a list of origins, not '*'")
        self.allowed_origins = allowed_origins
        self.allow_credentials = allow_credentials
        self.allowed_methods = allowed_methods
        self.expose_headers = expose_headers
        self.allowed_headers = allowed_headers
        self.max_age = max_age
        if app is not None:
            self.initialize(app, handle_cors)

    def initialize(self, app, handle_cors=True):
        """Attach to ``app`` (its after_request and after_error_request hooks)."""
        if handle_cors:
            app.after_request(self.after_request)
            app.after_error_request(self.after_request)

    def origin_allowed(self, origin):
        allowed = self.allowed_origins
        if allowed is None:
            return False
        return allowed == "*" or "*" in allowed or origin in allowed

    def after_request(self, request, response):
        """Add the CORS headers for ``request`` to ``response``."""
        origin = request.headers.get("Origin")
        if origin is None or not self.origin_allowed(origin):
            if self.allowed_origins is not None and self.allowed_origins != "*":
                _vary(response, "Origin")  # the answer depends on Origin: caches must know
            return response
        h = response.headers
        star = self.allowed_origins == "*" and not self.allow_credentials
        h["Access-Control-Allow-Origin"] = "*" if star else origin
        if not star:
            _vary(response, "Origin")
        if self.allow_credentials:
            h["Access-Control-Allow-Credentials"] = "true"
        asked = request.headers.get("Access-Control-Request-Method")
        if request.method == "OPTIONS" and asked is not None:
            if self.allowed_methods:
                h["Access-Control-Allow-Methods"] = ", ".join(self.allowed_methods)
            else:
                h["Access-Control-Allow-Methods"] = h.get("Allow") or asked
            if self.allowed_headers is not None:
                h["Access-Control-Allow-Headers"] = ", ".join(self.allowed_headers)
            else:
                wanted = request.headers.get("Access-Control-Request-Headers")
                if wanted:
                    h["Access-Control-Allow-Headers"] = wanted
            if self.max_age is not None:
                h["Access-Control-Max-Age"] = str(self.max_age)
        elif self.expose_headers:
            h["Access-Control-Expose-Headers"] = ", ".join(self.expose_headers)
        return response
