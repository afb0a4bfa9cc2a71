# URL rules compiled at registration: static paths are one dict lookup, dynamic ones are grouped
# by their first path segment and segment count so a request runs few regexes.
import re

from _kiln import is_coroutine_function

from kiln.text import rpartition

_len = len  # a module global is found faster than a builtin
_SEGMENT = "[^/]+"
_INT = "-?[0-9]+"
# name -> (regex, to_python, to_url, single_segment)
_converters = {
    "string": (_SEGMENT, None, str, True),
    "int": (_INT, int, str, True),
    "path": (".+", None, str, False),
}

def register_converter(name, pattern="[^/]+", to_python=None, to_url=str):
    """Register a path converter usable as ``<name:arg>`` in every app's routes.

    ``pattern`` is a regex without groups; ``to_python(text)`` turns the matched text into the
    handler argument (raise ValueError to refuse the match); ``to_url(value)`` does the reverse
    for ``url_for``."""
    if "(" in pattern.replace("\\(", "").replace("(?:", ""):
        raise ValueError("converter %r: pattern must not contain groups" % name)
    _converters[name] = (pattern, to_python, to_url, "/" not in pattern and "." not in pattern)


class URLPattern:
    """Microdot-compatible name for registering converters."""

    @staticmethod
    def register_type(type_name, pattern="[^/]+", parser=None):
        """``parser(text)`` returns the value, or None to refuse the match."""
        to_python = None
        if parser is not None:

            def to_python(text):
                value = parser(text)
                if value is None:
                    raise ValueError(text)
                return value

        register_converter(type_name, pattern, to_python)


def endpoint_info(f):
    """Return (endpoint name, is_coroutine_function) for a view function or wrapper object."""
    name = getattr(f, "__name__", None) or type(f).__name__
    is_async = getattr(f, "is_async", None)
    if is_async is None:
        is_async = is_coroutine_function(f)
    return name, is_async


class Wrapped:
    """A decorated view (auth, sessions, forms): callable, named after the function it wraps,
    and a coroutine function when ``is_async``."""

    def __init__(self, call, f, is_async=True):
        self.call = call
        self.is_async = is_async
        self.__name__ = endpoint_info(f)[0]
        self.__wrapped__ = f

    def __call__(self, *args, **kwargs):
        return self.call(*args, **kwargs)


class Rule:
    """One URL pattern with the handlers of each of its methods."""

    def __init__(self, pattern):
        if not pattern.startswith("/"):
            raise ValueError("route %r must start with '/'" % pattern)
        self.pattern = pattern
        self.methods = {}  # method -> Endpoint
        self.parts = []  # literal str, or (name, to_url)
        self.names = []  # (name, to_python) per regex group
        self.regex = None
        self.first = None  # first path segment when it is literal
        self.nslash = pattern.count("/")  # -1 when a part may span segments
        if "<" not in pattern:
            return
        rx = "^"
        pos = 0
        regexes = []
        while True:
            start = pattern.find("<", pos)
            if start < 0:
                break
            end = pattern.find(">", start)
            if end < 0:
                raise ValueError("route %r: unclosed '<'" % pattern)
            literal = pattern[pos:start]
            self.parts.append(literal)
            rx += _escape(literal)
            spec = pattern[start + 1 : end]
            if spec.startswith("re:"):
                regex, name = spec[3:].rsplit(":", 1)
                to_python, to_url, single = None, str, False
            else:
                kind, _, name = rpartition(spec, ":")
                kind = kind or "string"
                conv = _converters.get(kind)
                if conv is None:
                    raise ValueError("route %r: unknown converter %r (known: %s)"
                                     % (pattern, kind, ", ".join(sorted(_converters))))
                regex, to_python, to_url, single = conv
            if not name or not _is_ident(name):
                raise ValueError("route %r: bad argument name %r" % (pattern, name))
            if not single:
                self.nslash = -1
            rx += "(" + regex + ")"
            regexes.append(regex)
            self.parts.append((name, to_url))
            self.names.append((name, to_python))
            pos = end + 1
        tail = pattern[pos:]
        if tail:
            self.parts.append(tail)
            rx += _escape(tail)
        self.regex = re.compile(rx + "$")
        # calls view(request, name=value, ...) with keywords, which allocates nothing, where
        # view(request, **args) would build and free an argument array on the heap
        self.caller = eval("lambda f, r, a: f(r, %s)" % ", ".join("%s=a[%r]" % (n, n) for n, _ in self.names))
        head = self.parts[0]
        slash = head.find("/", 1)
        if slash > 0:
            self.first = head[1:slash]
        if regexes == [_SEGMENT] or regexes == [_INT]:
            # literal + one segment + literal: string tests instead of the regex
            self.prefix = head
            self.suffix = tail
            self.prefix_bytes = _len(head.encode())
            self.suffix_bytes = _len(tail.encode())
            self.regex_text = regexes[0]
            self.argname, self.to_python = self.names[0]
            self.match = self._match_segment

    def _match_segment(self, path, n):
        # same slash count, prefix and suffix: what is left is exactly one segment
        if n != self.nslash or not path.startswith(self.prefix) or not path.endswith(self.suffix):
            return None
        if self.to_python is int and self.regex_text is _INT:
            return self._int_segment(path.encode())
        path = path[_len(self.prefix) : _len(path) - _len(self.suffix)]
        if not path:
            return None
        if self.to_python is None:
            return {self.argname: path}
        if self.regex_text is _INT:
            if not (path[1:] if path[0] == "-" else path).isdigit():
                return None
            if self.to_python is int:
                return {self.argname: int(path)}
        return self._convert(path)

    def _int_segment(self, raw):
        # bytes slices skip the lookup for an equal interned string that str slices make
        raw = raw[self.prefix_bytes : _len(raw) - self.suffix_bytes]
        if not raw or not (raw[1:] if raw[0] == 45 else raw).isdigit():
            return None
        return {self.argname: int(raw)}

    def _convert(self, text):
        try:
            return {self.argname: self.to_python(text)}
        except ValueError:
            return None

    def match(self, path, n):
        """The arguments of ``path`` (with ``n`` slashes) if it matches, else None."""
        if self.nslash >= 0 and n != self.nslash:
            return None
        try:
            m = self.regex.match(path)
        except RuntimeError:
            # MicroPython's re recurses per character: a segment too long for the stack (about
            # 1000 characters on unix, 600 in the 32-bit build, fewer on a device) matches nothing.
            return None
        if m is None:
            return None
        return self._groups(m)

    def _groups(self, m):
        args = {}
        i = 1
        for name, to_python in self.names:
            value = m.group(i)
            if to_python is not None:
                try:
                    value = to_python(value)
                except ValueError:
                    return None
            args[name] = value
            i += 1
        return args

    def build(self, params):
        if self.regex is None:
            return self.pattern
        out = ""
        for part in self.parts:
            if type(part) is str:
                out += part
            else:
                name, to_url = part
                if name not in params:
                    raise ValueError("url_for: route %r needs %r" % (self.pattern, name))
                out += _quote(to_url(params.pop(name)), "/" if self.nslash < 0 else "")
        return out


class Endpoint:
    def __init__(self, name, func, is_async, rule):
        self.name = name
        self.func = func
        self.is_async = is_async
        self.rule = rule
        self.local = None  # the sub-app whose hooks apply only here (App.mount(local=True))
        self.sync = not is_async
        self.last = None  # the last (status, headers, body) of a str result, reused when equal


class Router:
    """The URL map of one app."""

    def __init__(self):
        self.static = {}  # path -> {method: Endpoint}
        self.groups = []  # ("/first/", [Rule]) per literal first segment
        self._by_first = {}  # first segment -> the same [Rule]
        self.wild = []  # dynamic rules whose first segment is not literal
        self.rules = {}  # pattern -> Rule
        self.endpoints = {}  # name -> Endpoint

    def add(self, pattern, methods, func, endpoint=None):
        name, is_async = endpoint_info(func)
        name = endpoint or name
        rule = self.rules.get(pattern)
        if rule is None:
            rule = Rule(pattern)
            self.rules[pattern] = rule
            if rule.regex is None:
                self.static[pattern] = rule.methods
            elif rule.first is None:
                self.wild.append(rule)
            else:
                rules = self._by_first.get(rule.first)
                if rules is None:
                    rules = self._by_first[rule.first] = []
                    self.groups.append(("/" + rule.first + "/", rules))
                rules.append(rule)
        known = self.endpoints.get(name)
        if known is not None and known.func is not func:
            raise ValueError("endpoint %r is already used by route %r; give this route another "
                             "function name or endpoint=" % (name, known.rule.pattern))
        ep = Endpoint(name, func, is_async, rule)
        for m in methods:
            m = m.upper()
            if m in rule.methods:
                raise ValueError("route %s %s is defined twice" % (m, pattern))
            rule.methods[m] = ep
        if known is None:
            self.endpoints[name] = ep
        return ep

    def find(self, path):
        """Return ({method: Endpoint}, args) of the first rule matching path, or (None, None)."""
        methods = self.static.get(path)
        if methods is not None:
            return methods, None
        return self.find_dynamic(path) or (None, None)

    def find_dynamic(self, path):
        """(methods, args) of the first dynamic rule matching path, or None."""
        groups = self.groups
        i = 0
        while i < _len(groups):
            if path.startswith(groups[i][0]):
                groups = _scan(groups[i][1], path)
                if groups is not None:
                    return groups
                break
            i += 1
        return _scan(self.wild, path) if self.wild else None


def _scan(rules, path):
    n = path.count("/")
    i = 0
    while i < _len(rules):
        args = rules[i].match(path, n)
        if args is not None:
            return rules[i].methods, args
        i += 1
    return None


def _is_ident(name):
    for c in name:
        if not (c.isalpha() or c.isdigit() or c == "_"):
            return False
    return not name[0].isdigit()


def _escape(literal):
    out = ""
    for c in literal:
        if c in ".^$*+?{}[]\\|()":
            out += "\\"
        out += c
    return out


_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"


def _quote(text, safe=""):
    out = ""
    for c in text:
        if c in _SAFE or c in safe:
            out += c
        else:
            for b in c.encode():
                out += "%%%02X" % b
    return out


def urlencode(pairs):
    """Encode (name, value) pairs or a dict as a query string."""
    if isinstance(pairs, dict):
        pairs = pairs.items()
    return "&".join(_quote(str(k)) + "=" + _quote(str(v)) for k, v in pairs)
