# URL rules compiled at registration: a static path is one dict lookup, a dynamic one a lookup by
# its first path segment and slash count, then the few rules found there (see Router.index);
# a rule with one string, int or single-segment converter between literal text needs no regex.
import re

from _kiln import METHODS as _METHODS
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
    """One URL pattern with the handlers of each of its methods. A rule holds only its pattern
    and its methods (what it takes to match it lives in its router's index): routes are counted
    in thousands on boards with tens of KB of heap."""

    # calls view(request, name=value, ...) with keywords, which allocates nothing, where
    # view(request, **args) would build and free an argument array on the heap; one function per
    # set of argument names, on a subclass shared by every rule with those names (_rule_class)
    caller = staticmethod(lambda f, r, a: f(r, **a))

    def __init__(self, pattern):
        self.pattern = pattern
        self.methods = {}  # method -> Endpoint

    def build(self, params):
        """The path of this rule with ``params``' values (popped from it)."""
        parts = _split(self.pattern)
        if _len(parts) == 1:
            return self.pattern
        out = parts[0]
        i = 1
        while i < _len(parts):
            name, _, _, to_url, single = parts[i]
            if name not in params:
                raise ValueError("url_for: route %r needs %r" % (self.pattern, name))
            out += _url_value(to_url(params.pop(name)), not single) + parts[i + 1]
            i += 2
        return out


_rule_classes = {}  # "name,name" -> Rule subclass with that caller


def _rule_class(names):
    key = ",".join(names)
    cls = _rule_classes.get(key)
    if cls is None:
        caller = eval("lambda f, r, a: f(r, %s)" % ", ".join("%s=a[%r]" % (n, n) for n in names))
        cls = _rule_classes[key] = type("Rule", (Rule,), {"caller": staticmethod(caller)})
    return cls


class Endpoint:
    """A view registered for one method of one rule. What most endpoints share is a class
    attribute, so an instance holds two attributes: func and rule."""

    is_async = False
    sync = True
    local = None  # the sub-app whose hooks apply only here (App.mount(local=True))
    last = None  # the last (status, headers, body) of a str result, reused when equal
    _name = None  # the endpoint name when it is not the function's

    def __init__(self, name, func, is_async, rule):
        self.func = func
        self.rule = rule
        if is_async:
            self.is_async = True
            self.sync = False
        if name != endpoint_info(func)[0]:
            self._name = name

    @property
    def name(self):
        return self._name or endpoint_info(self.func)[0]


# A dynamic rule is indexed by the hash of its literal first path segment (-1 when that segment
# holds a converter) and its slash count: key hash * 256 + slashes, in Router.index[hash & 63].
# A bucket is a flat tuple or list of 5-item entries, in registration order:
#   (rule, extra, suffix, name, conv)  one argument between literal text, matched without a regex:
#                                      extra: literal text after "/first/" (or after "/"), or None;
#                                      conv: str, int, or (compiled regex, to_python) of a converter
#   (rule, regex, names, min_slashes, None)  any other rule: its regex, ((name, to_python), ...)
# Rules whose arguments may span segments (path, re:, ...) have no fixed slash count: they are
# kept per first segment in Router.loose and added to every bucket of that segment that they
# could match, so each bucket holds every candidate for its paths in registration order.
# No table grows with the number of routes beyond a few hundred entries: a large table is one
# block of heap that a fragmented heap no longer has (1,000 routes in 256 KB, bench/routing.py).
_STRIDE = 5
_SPLIT = 64


class Table:
    """A mapping split into small dicts (see above); ``items()`` in insertion order."""

    def __init__(self):
        self.parts = {}  # hash & 63 -> dict
        self.order = [[]]  # keys in insertion order, 64 a list

    def get(self, key, default=None):
        part = self.parts.get(_hash(key) & (_SPLIT - 1))
        return default if part is None else part.get(key, default)

    def __setitem__(self, key, value):
        h = _hash(key) & (_SPLIT - 1)
        part = self.parts.get(h)
        if part is None:
            part = self.parts[h] = {}
        if key not in part:
            if _len(self.order[-1]) == _SPLIT:
                self.order.append([])
            self.order[-1].append(key)
        part[key] = value

    def __getitem__(self, key):
        value = self.get(key, self)
        if value is self:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        return self.get(key, self) is not self

    def __len__(self):
        return sum(_len(keys) for keys in self.order)

    def __iter__(self):
        for keys in self.order:
            for key in keys:
                yield key

    def keys(self):
        return iter(self)

    def items(self):
        for key in self:
            yield key, self.get(key)


class Router:
    """The URL map of one app."""

    def __init__(self):
        self.static = {}  # path -> {method: Endpoint}
        self.index = {}  # first-segment hash & 63 -> {hash * 256 + slash count: bucket}
        self.loose = {}  # first-segment hash (or -1) -> bucket of rules without a slash count
        self.literal = False  # a dynamic rule with a literal first segment exists
        self.wild = False  # a dynamic rule whose first segment holds a converter exists
        self.rules = Table()  # pattern -> Rule, in registration order
        self.endpoints = Table()  # name -> Endpoint

    def add(self, pattern, methods, func, endpoint=None):
        if type(methods) is str:
            raise ValueError("route %r: methods must be a list such as [%r], not a string"
                             % (pattern, methods))
        methods = [m.upper() for m in methods]
        if not methods:
            raise ValueError("route %r: no method" % pattern)
        for i, m in enumerate(methods):
            if m in methods[i + 1 :]:
                raise ValueError("route %s %s is defined twice" % (m, pattern))
            if m not in _METHODS:
                raise ValueError("route %r: unknown method %r (known: %s)"
                                 % (pattern, m, ", ".join(_METHODS)))
        name, is_async = endpoint_info(func)
        name = endpoint or name
        known = self.endpoints.get(name)
        if known is not None and known.func is not func:
            raise ValueError("endpoint %r is already used by route %r; give this route another "
                             "function name or endpoint=" % (name, known.rule.pattern))
        rule = self._rule(pattern)
        for m in methods:
            if m in rule.methods:
                raise ValueError("route %s %s is defined twice" % (m, pattern))
        ep = Endpoint(name, func, is_async, rule)
        for m in methods:
            rule.methods[m] = ep
        if known is None:
            self.endpoints[name] = ep
        return ep

    def _rule(self, pattern):
        # the rule of pattern, made and indexed if it is new
        parts = _split(pattern)
        if _len(parts) == 1:
            methods = self.static.get(pattern)
            if methods is not None:
                return next(iter(methods.values())).rule
            rule = Rule(pattern)
            self.static[pattern] = rule.methods
            self.rules[pattern] = rule
            return rule
        args = parts[1::2]
        head = parts[0]
        slash = head.find("/", 1)
        h = _hash(head[1:slash]) if slash > 0 else -1
        slashes = 0
        for i in range(0, _len(parts), 2):
            slashes += parts[i].count("/")
        fixed = slashes < 256
        for a in args:
            fixed = fixed and a[4]
        key = h * 256 + slashes
        part = self.index.get(h & (_SPLIT - 1))
        bucket = (part.get(key) if part is not None else None) if fixed else self.loose.get(h)
        i = 0
        while bucket is not None and i < _len(bucket):
            if bucket[i].pattern == pattern:
                return bucket[i]
            i += _STRIDE
        rule = _rule_class([a[0] for a in args])(pattern)
        self.rules[pattern] = rule
        if slash > 0:
            self.literal = True
        else:
            self.wild = True
        conv = None
        if fixed and _len(args) == 1:
            _, regex, to_python, _, _ = args[0]
            if regex == _SEGMENT and to_python is None:
                conv = str
            elif regex == _INT and to_python is int:
                conv = int
            else:
                conv = _simple_converter(regex, to_python)
        if conv is None:
            entry = (rule, _regex(parts), tuple((a[0], a[2]) for a in args), slashes, None)
        else:
            entry = (rule, head[slash + 1 :] if slash > 0 else head[1:], parts[2], args[0][0], conv)
            if not entry[1]:
                entry = (rule, None) + entry[2:]
        if not fixed:
            self.loose[h] = _append(self.loose.get(h), entry)
            for part in self.index.values():
                for key in part:
                    if key >> 8 == h and key & 255 >= slashes:
                        part[key] = _append(part[key], entry)
            return rule
        if bucket is None:
            loose = self.loose.get(h) or ()
            i = 0
            while i < _len(loose):
                if loose[i + 3] <= slashes:
                    bucket = _append(bucket, loose[i : i + _STRIDE])
                i += _STRIDE
        if part is None:
            part = self.index[h & (_SPLIT - 1)] = {}
        part[key] = _append(bucket, entry)
        return rule

    def find(self, path):
        """Return ({method: Endpoint}, args) of the first rule matching path, or (None, None)."""
        methods = self.static.get(path)
        if methods is not None:
            return methods, None
        return self.find_dynamic(path) or (None, None)

    def find_dynamic(self, path):
        """(methods, args) of the first dynamic rule matching path, or None: the rules whose
        first segment is literal come first, in registration order, then the others."""
        n = path.count("/")
        if self.literal:
            slash = path.find("/", 1)
            if slash > 0:
                first = path[1:slash]
                h = _hash(first)
                bucket = None
                if n < 256:
                    bucket = self.index.get(h & (_SPLIT - 1))
                    if bucket is not None:
                        bucket = bucket.get(h * 256 + n)
                if bucket is None:
                    bucket = self.loose.get(h)
                if bucket is not None:
                    found = _scan(bucket, path, first, slash + 1)
                    if found is not None:
                        return found
        if self.wild:
            bucket = None
            if n < 256:
                bucket = self.index.get(_SPLIT - 1)
                if bucket is not None:
                    bucket = bucket.get(n - 256)
            if bucket is None:
                bucket = self.loose.get(-1)
            if bucket is not None:
                return _scan(bucket, path, None, 1)
        return None


_hash = hash


def _append(bucket, entry):
    # a bucket of one entry is that entry (a tuple): no list for the routes alone in theirs
    if bucket is None:
        return entry
    if type(bucket) is tuple:
        bucket = list(bucket)
    bucket.extend(entry)
    return bucket


def _scan(bucket, path, first, start):
    # first: the path's first segment when the bucket was found by its hash, which others share
    i = 0
    while i < _len(bucket):
        conv = bucket[i + 4]
        if conv is None:
            m = bucket[i + 1].match(path)
            if m is not None:
                args = _groups(m, bucket[i + 2])
                if args is not None:
                    return bucket[i].methods, args
        else:
            rule = bucket[i]
            if first is None or (rule.pattern.startswith(first, 1)
                                 and rule.pattern.startswith("/", start - 1)):
                args = _segment(path, start, bucket[i + 1], bucket[i + 2], bucket[i + 3], conv)
                if args is not None:
                    return rule.methods, args
        i += _STRIDE
    return None


def _segment(path, start, extra, suffix, name, conv):
    # the bucket's slash count equals the path's: between prefix and suffix is one segment
    if extra is not None:
        if not path.startswith(extra, start):
            return None
        start += _len(extra)
    end = _len(path) - _len(suffix)
    if end <= start or not path.endswith(suffix):
        return None
    value = path[start:end]
    if conv is str:
        return {name: value}
    if conv is int:
        if (value[1:] if value[0] == "-" else value).isdigit():
            return {name: int(value)}
        return None
    if conv[0].match(value) is None:
        return None
    if conv[1] is None:
        return {name: value}
    try:
        return {name: conv[1](value)}
    except ValueError:
        return None


def _groups(m, names):
    args = {}
    i = 1
    for name, to_python in names:
        value = m.group(i)
        if to_python is not None:
            try:
                value = to_python(value)
            except ValueError:
                return None
        args[name] = value
        i += 1
    return args


_simple = {}  # converter regex -> (compiled "^(?:regex)$", to_python), shared by its routes


def _simple_converter(regex, to_python):
    conv = _simple.get((regex, to_python))
    if conv is None:
        conv = _simple[(regex, to_python)] = (re.compile("^(?:" + regex + ")$"), to_python)
    return conv


def _split(pattern):
    """[literal, (name, regex, to_python, to_url, single), literal, ...] of a URL pattern; a
    ``re:`` argument's regex is "re:" + its text."""
    if not pattern.startswith("/"):
        raise ValueError("route %r must start with '/'" % pattern)
    parts = []
    pos = 0
    while True:
        start = pattern.find("<", pos)
        if start < 0:
            break
        end = pattern.find(">", start)
        if end < 0:
            raise ValueError("route %r: unclosed '<'" % pattern)
        parts.append(pattern[pos:start])
        spec = pattern[start + 1 : end]
        if spec.startswith("re:"):
            regex, name = spec[3:].rsplit(":", 1)
            arg = (name, "re:" + regex, None, str, False)
        else:
            kind, _, name = rpartition(spec, ":")
            conv = _converters.get(kind or "string")
            if conv is None:
                raise ValueError("route %r: unknown converter %r (known: %s)"
                                 % (pattern, kind, ", ".join(sorted(_converters))))
            arg = (name,) + conv
        if not name or not _is_ident(name):
            raise ValueError("route %r: bad argument name %r" % (pattern, name))
        parts.append(arg)
        pos = end + 1
    parts.append(pattern[pos:])
    return parts


def _regex(parts):
    rx = "^" + _escape(parts[0])
    i = 1
    while i < _len(parts):
        regex = parts[i][1]
        rx += "(" + (regex[3:] if regex.startswith("re:") else regex) + ")" + _escape(parts[i + 1])
        i += 2
    return re.compile(rx + "$")


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


def _url_value(text, keep_slash):
    # "." and ".." become %2E and %2E%2E: a value never turns into a dot segment that a client
    # would resolve away (/users/../admin)
    out = _quote(text, "/" if keep_slash else "")
    if "." not in out:
        return out
    if not keep_slash:
        return out.replace(".", "%2E") if out in (".", "..") else out
    return "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in out.split("/"))


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
