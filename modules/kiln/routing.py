# URL rules compiled at registration: a static path is one dict lookup, a dynamic one a lookup by
# its first path segment and slash count, then the few rules found there (see Router.index);
# a rule with one string, int or single-segment converter between literal text needs no regex.
import gc
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
    """One URL pattern with the handlers of each of its methods. A dynamic rule is also what its
    router's index holds: what it takes to match it is in class attributes shared by the rules
    with the same argument names and converter, and in instance attributes only where they
    differ from the default. Routes are counted in thousands on boards with tens of KB of heap
    (bench/routing.py)."""

    # calls view(request, name=value, ...) with keywords, which allocates nothing, where
    # view(request, **args) would build and free an argument array on the heap; one function per
    # set of argument names, on the subclass made by _rule_class
    caller = staticmethod(lambda f, r, a: f(r, **a))
    # one argument between literal text, matched without a regex:
    conv = None  # str, int, or (compiled "^(?:regex)$", to_python) of a converter
    argname = None
    extra = None  # literal text after "/first/" (or after "/" when the first segment is not literal)
    suffix = ""  # literal text after the argument
    # any other dynamic rule:
    regex = None
    names = None  # ((name, to_python), ...) of the regex's groups

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


_rule_classes = {}  # ("name,name", conv) -> Rule subclass


def _rule_class(names, conv):
    key = (",".join(names), conv)
    cls = _rule_classes.get(key)
    if cls is None:
        caller = eval("lambda f, r, a: f(r, %s)" % ", ".join("%s=a[%r]" % (n, n) for n in names))
        cls = _rule_classes[key] = type("Rule", (Rule,), {
            "caller": staticmethod(caller), "conv": conv, "argname": names[0] if conv else None})
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


# A dynamic rule is indexed by the hash h of its literal first path segment (-1 when that segment
# holds a converter) and its slash count n: Router.index[_part(h)][h * 256 + n] is a bucket, a
# Rule or a list of them in registration order. Rules whose arguments may span segments (path,
# re:, ...) have no slash count: they are kept per first segment in Router.loose[h] and also
# added to every bucket of that segment that they could match, so a bucket holds every
# candidate for its paths in registration order.
# No dict or list grows with the number of routes beyond a few dozen entries (index and
# endpoints are split in 64, rules in lists of 64): a large table is one block of heap, which
# a heap fragmented by thousands of small objects no longer has.
_SPLIT = 64


def _part(h):
    # spreads the low bits of MicroPython's string hash, which similar names share
    return (h ^ (h >> 6) ^ (h >> 12)) & (_SPLIT - 1)


class Table:
    """A dict split into small dicts, for names that grow with the number of routes."""

    def __init__(self):
        self.parts = {}  # _part(hash(key)) -> dict

    def get(self, key, default=None):
        part = self.parts.get(_part(_hash(key)))
        return default if part is None else part.get(key, default)

    def __setitem__(self, key, value):
        h = _part(_hash(key))
        part = self.parts.get(h)
        if part is None:
            part = self.parts[h] = {}
        part[key] = value

    def __contains__(self, key):
        return self.get(key, self) is not self

    def __len__(self):
        return sum(_len(part) for part in self.parts.values())

    def __iter__(self):
        for part in self.parts.values():
            for key in part:
                yield key

    def items(self):
        for part in self.parts.values():
            for item in part.items():
                yield item


class Rules:
    """Every rule of a router by pattern, in registration order (what App.mount replays)."""

    def __init__(self):
        self.chunks = [[]]

    def append(self, rule):
        if _len(self.chunks[-1]) == _SPLIT:
            self.chunks.append([])
        self.chunks[-1].append(rule)

    def values(self):
        for chunk in self.chunks:
            for rule in chunk:
                yield rule

    def items(self):
        for rule in self.values():
            yield rule.pattern, rule

    def __iter__(self):
        for rule in self.values():
            yield rule.pattern

    def __len__(self):
        return sum(_len(chunk) for chunk in self.chunks)

    def get(self, pattern, default=None):
        for rule in self.values():
            if rule.pattern == pattern:
                return rule
        return default


class Router:
    """The URL map of one app."""

    def __init__(self):
        self.static = {}  # path -> {method: Endpoint}
        self.index = {}  # _part(h) -> {h * 256 + n: bucket} (see above)
        self.loose = {}  # h -> bucket of the rules without a slash count
        self.literal = False  # a dynamic rule with a literal first segment exists
        self.wild = False  # a dynamic rule whose first segment holds a converter exists
        self.rules = Rules()  # pattern -> Rule, in registration order
        self.endpoints = Table()  # name -> Endpoint
        self.added = 0  # dynamic rules, for the collections that keep the heap packed

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
            self.rules.append(rule)
            return rule
        args = parts[1::2]
        head = parts[0]
        slash = head.find("/", 1)
        h = _hash(head[1:slash]) if slash > 0 else -1
        slashes = _slashes(parts)
        fixed = slashes < 256
        for a in args:
            fixed = fixed and a[4]
        key = h * 256 + slashes
        part = self.index.get(_part(h))
        bucket = (part.get(key) if part is not None else None) if fixed else self.loose.get(h)
        for rule in _rules_of(bucket):
            if rule.pattern == pattern:
                return rule
        conv = None
        if fixed and _len(args) == 1:
            _, regex, to_python, _, _ = args[0]
            if regex == _SEGMENT and to_python is None:
                conv = str
            elif regex == _INT and to_python is int:
                conv = int
            else:
                conv = _simple_converter(regex, to_python)
        rule = _rule_class([a[0] for a in args], conv)(pattern)
        if conv is None:
            rule.regex = _regex(parts)
            rule.names = tuple((a[0], a[2]) for a in args)
        else:
            extra = head[slash + 1 :] if slash > 0 else head[1:]
            if extra:
                rule.extra = extra
            if parts[2]:
                rule.suffix = parts[2]
        self.rules.append(rule)
        if slash > 0:
            self.literal = True
        else:
            self.wild = True
        self.added += 1
        if self.added & 63 == 0:
            # garbage made while registering lies between the rules; collected now and then, the
            # rules stay packed and the heap keeps large free blocks (bench/routing.py: without
            # it 1,000 routes fail in a heap with most of its space free, in holes)
            _gc_collect()
        if not fixed:
            self.loose[h] = _append(self.loose.get(h), rule)
            for part in self.index.values():
                for key in part:
                    if key >> 8 == h and key & 255 >= slashes:
                        part[key] = _append(part[key], rule)
            return rule
        if bucket is None:
            for other in _rules_of(self.loose.get(h)):
                if _slashes(_split(other.pattern)) <= slashes:
                    bucket = _append(bucket, other)
        if part is None:
            part = self.index[_part(h)] = {}
        part[key] = _append(bucket, rule)
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
                    bucket = self.index.get((h ^ (h >> 6) ^ (h >> 12)) & 63)  # _part(h), inlined
                    if bucket is not None:
                        bucket = bucket.get(h * 256 + n)
                if bucket is None:
                    bucket = self.loose.get(h)
                if bucket is not None:
                    if type(bucket) is list:
                        bucket = _scan(bucket, path, first, slash + 1)
                    else:
                        bucket = _match(bucket, path, first, slash + 1)
                    if bucket is not None:
                        return bucket
        if self.wild:
            bucket = None
            if n < 256:
                bucket = self.index.get(_part(-1))
                if bucket is not None:
                    bucket = bucket.get(n - 256)
            if bucket is None:
                bucket = self.loose.get(-1)
            if bucket is not None:
                return _scan(bucket, path, None, 1)
        return None


_hash = hash
_gc_collect = gc.collect


def _slashes(parts):
    # the slashes of a pattern's literal text: its slash count, or the least for a loose rule
    n = 0
    i = 0
    while i < _len(parts):
        n += parts[i].count("/")
        i += 2
    return n


def _rules_of(bucket):
    if bucket is None:
        return ()
    return bucket if type(bucket) is list else (bucket,)


def _append(bucket, rule):
    # a bucket of one rule is that rule: no list for the routes alone in theirs
    if bucket is None:
        return rule
    if type(bucket) is not list:
        return [bucket, rule]
    bucket.append(rule)
    return bucket


def _scan(bucket, path, first, start):
    if type(bucket) is not list:
        return _match(bucket, path, first, start)
    i = 0
    while i < _len(bucket):  # no iterator object per request
        found = _match(bucket[i], path, first, start)
        if found is not None:
            return found
        i += 1
    return None


def _match(rule, path, first, start):
    # first: the path's first segment when the bucket was found by its hash, which other
    # segments may share. Few locals, reused: a frame of more than 11 words goes on the heap.
    conv = rule.conv
    if conv is None:
        m = rule.regex.match(path)
        if m is None:
            return None
        m = _groups(m, rule.names)
        return None if m is None else (rule.methods, m)
    if first is not None:
        m = rule.pattern
        if not m.startswith(first, 1) or not m.startswith("/", start - 1):
            return None
    # the bucket's slash count is the path's: between prefix and suffix is one segment
    m = rule.extra
    if m is not None:
        if not path.startswith(m, start):
            return None
        start += _len(m)
    m = rule.suffix
    first = _len(path) - _len(m)  # the end of the argument
    if first <= start or not path.endswith(m):
        return None
    m = path[start:first]
    if conv is str:
        return rule.methods, {rule.argname: m}
    if conv is int:
        if (m[1:] if m[0] == "-" else m).isdigit():
            return rule.methods, {rule.argname: int(m)}
        return None
    if conv[0].match(m) is None:
        return None
    if conv[1] is not None:
        try:
            m = conv[1](m)
        except ValueError:
            return None
    return rule.methods, {rule.argname: m}


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
