# URL rules compiled at registration: a static path is one dict lookup, a dynamic one a lookup by
# its first path segment and slash count, then the few rules found there (see Router.index);
# a rule with one string, int or single-segment converter between literal text needs no regex.
import gc
import re

from _kiln import METHODS as _METHODS
from _kiln import is_coroutine_function
from _kiln import route_match as _route_match

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


def is_async(f):
    """Whether calling ``f`` (a function, bound method or wrapper object) gives a coroutine."""
    known = getattr(f, "is_async", None)
    return is_coroutine_function(f) if known is None else known


def endpoint_info(f):
    """Return (endpoint name, is_coroutine_function) for a view function or wrapper object."""
    return getattr(f, "__name__", None) or type(f).__name__, is_async(f)


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
    """One URL pattern with the handlers of each of its methods. Its router's index holds its
    entry, a tuple (see Router.index); a rule adds the function that calls its views. Routes
    are counted in thousands on boards with tens of KB of heap (bench/routing.py): no per-rule
    regex unless the rule needs one, no per-rule function, few instance attributes."""

    # caller(view, request, argument) calls view(request, name=value, ...) with keywords, from
    # the argument of a match (Router.match), which allocates nothing, where
    # view(request, **args) would build and free an argument array on the heap; one function
    # per set of argument names (_caller), an instance attribute: read on every request, where a
    # class attribute costs ~600 instructions more (bench/routing.py)
    caller = staticmethod(lambda f, r, a: f(r, **a))
    parts = None  # _split(pattern), kept by the first url_for: only rules that links name

    def __init__(self, entry, caller=None):
        self.entry = entry
        if caller is not None:
            self.caller = caller

    @property
    def methods(self):  # method -> Endpoint
        return self.entry[0]

    @property
    def pattern(self):
        return self.entry[5]

    def call(self, view, request, args):
        """Call ``view`` with ``request`` and the arguments ``args`` (a dict by name)."""
        e = self.entry
        return self.caller(view, request, args if e[1] is None else args[e[2]])

    def build(self, params):
        """The path of this rule with ``params``' values (popped from it)."""
        parts = self.parts
        if parts is None:
            parts = self.parts = _split(self.pattern)
        if _len(parts) == 1:
            return parts[0]
        out = parts[0]
        i = 1
        while i < _len(parts):
            name, _, _, to_url, single = parts[i]
            if name not in params:
                raise ValueError("url_for: route %r needs %r" % (self.pattern, name))
            out += _url_value(to_url(params.pop(name)), not single) + parts[i + 1]
            i += 2
        return out


_callers = {}  # its source -> caller


def _caller(names, single):
    # calls the view with the argument of a match (see Router.match): the value of a rule's one
    # argument (single), else a dict of them
    if single:
        key = "lambda f, r, a: f(r, %s=a)" % names[0]
    else:
        key = "lambda f, r, a: f(r, %s)" % ", ".join("%s=a[%r]" % (n, n) for n in names)
    caller = _callers.get(key)
    if caller is None:
        caller = _callers[key] = eval(key)
    return caller


class Endpoint:
    """A view registered for one method of one rule. What most endpoints share is a class
    attribute; an instance holds func, rule and sync (read on every request)."""

    is_async = False
    local = None  # the sub-app whose hooks apply only here (App.mount(local=True))
    last = None  # the last (status, headers, body) of a str result, reused when equal
    _name = None  # the endpoint name when it is not the function's

    def __init__(self, name, func, is_async, rule):
        self.func = func
        self.rule = rule
        self.sync = not is_async
        if is_async:
            self.is_async = True
        if name != endpoint_info(func)[0]:
            self._name = name

    @property
    def name(self):
        return self._name or endpoint_info(self.func)[0]


# A dynamic rule is indexed by the hash h of its literal first path segment with the slash after
# it ("first/"; -1 when that segment holds a converter) and its slash count n:
# Router.index[_part(h)][h * 256 + n] is a bucket, an entry or a list of entries in registration
# order. An entry is a tuple, read by index (an instance attribute would cost a dict per rule,
# a class attribute ~600 instructions a read):
#   (methods, conv, argname, extra, suffix, pattern)  one argument between literal text, matched
#       without a regex: conv is str, int, or (compiled "^(?:regex)$", to_python) of a
#       converter; extra: the literal text after "/first/" (after "/" when the first segment is
#       not literal) or None; suffix: the literal text after the argument or None
#   (methods, None, ((name, to_python), ...), regex, None, pattern)  any other rule
# Rules whose arguments may span segments (path, re:, ...) have no slash count: they are kept
# per first segment in Router.loose[h] and also added to every bucket of that segment that they
# could match, so a bucket holds every candidate for its paths in registration order.
# No dict or list grows with the number of routes beyond a few dozen entries (index and
# endpoints are split in 64, rules in lists of 64): a large table is one block of heap, which
# a heap fragmented by thousands of small objects no longer has.
_SPLIT = 64
_FEW = 8  # first segments found by startswith (Router.groups)


def _part(h):
    # spreads the low bits of MicroPython's string hash, which similar names share
    return (h ^ (h >> 6) ^ (h >> 12)) & (_SPLIT - 1)


_WILD = _part(-1)


class Table:
    """A dict split into small dicts, for names that grow with the number of routes: get, set,
    ``in`` and items()."""

    def __init__(self):
        self.parts = {}  # _part(hash(key)) -> dict

    def get(self, key, default=None):
        h = _hash(key)
        h = self.parts.get((h ^ (h >> 6) ^ (h >> 12)) & 63)  # _part(h), inlined: url_for reads
        return default if h is None else h.get(key, default)

    def __setitem__(self, key, value):
        h = _part(_hash(key))
        part = self.parts.get(h)
        if part is None:
            part = self.parts[h] = {}
        part[key] = value

    def __contains__(self, key):
        return self.get(key, self) is not self

    def items(self):
        for part in self.parts.values():
            for item in part.items():
                yield item


class Rules:
    """Every rule of a router, in registration order (what App.mount replays): items() gives
    (pattern, rule) pairs, get(pattern) a rule or None."""

    def __init__(self):
        self.chunks = [[]]

    def append(self, rule):
        if _len(self.chunks[-1]) == _SPLIT:
            self.chunks.append([])
        self.chunks[-1].append(rule)

    def items(self):
        for chunk in self.chunks:
            for rule in chunk:
                yield rule.entry[5], rule

    def get(self, pattern, default=None):
        for key, rule in self.items():
            if key == pattern:
                return rule
        return default


class Router:
    """The URL map of one app."""

    def __init__(self):
        self.static = {}  # path -> {method: Endpoint}
        self.index = {}  # _part(h) -> {h * 256 + n: bucket} (see above)
        self.loose = {}  # h -> bucket of the rules without a slash count
        # "/first/", hash of "first/", its index part, ... while there are few: found with
        # startswith, which allocates nothing, where the index needs a slice of the path; None
        # once there are more
        self.groups = []
        # index[_part(-1)] once a dynamic rule whose first segment holds a converter exists
        self.wild = None
        self.rules = Rules()  # pattern -> Rule, in registration order
        self.endpoints = {}  # name -> Endpoint; a Table once there are many
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
        known_methods = rule.entry[0]
        for m in methods:
            if m in known_methods:
                raise ValueError("route %s %s is defined twice" % (m, pattern))
        ep = Endpoint(name, func, is_async, rule)
        for m in methods:
            known_methods[m] = ep
        if known is None:
            if type(self.endpoints) is dict and _len(self.endpoints) == _SPLIT:
                table = Table()
                for key, value in self.endpoints.items():
                    table[key] = value
                self.endpoints = table
            self.endpoints[name] = ep
        return ep

    def _rule(self, pattern):
        # the rule of pattern, made and indexed if it is new
        parts = _split(pattern)
        if _len(parts) == 1:
            methods = self.static.get(pattern)
            if methods is not None:
                return next(iter(methods.values())).rule
            rule = Rule(({}, None, None, None, None, pattern))
            self.static[pattern] = rule.methods
            self.rules.append(rule)
            return rule
        args = parts[1::2]
        head = parts[0]
        slash = head.find("/", 1)
        h = _hash(head[1 : slash + 1]) if slash > 0 else -1  # of "first/"
        slashes = _slashes(parts)
        fixed = slashes < 255  # match counts 255 for more
        for a in args:
            fixed = fixed and a[4]
        key = h * 256 + slashes
        part = self.index.get(_part(h))
        bucket = (part.get(key) if part is not None else None) if fixed else self.loose.get(h)
        for entry in _entries(bucket):
            if entry[5] == pattern:
                return next(iter(entry[0].values())).rule
        conv = None
        if _len(args) == 1:
            _, regex, to_python, _, _ = args[0]
            if to_python is None and (regex == ".+" or fixed and regex == _SEGMENT):
                conv = str  # the text between the rule's prefix and suffix, as it is
            elif fixed and regex == _INT and to_python is int and _len(head.encode()) == _len(head):
                conv = int  # _kiln_route.py reads the path's bytes at its characters' indexes
            elif fixed:
                conv = _simple_converter(regex, to_python)
        if conv is None:
            entry = ({}, None, tuple((a[0], a[2]) for a in args), _regex(parts), None, pattern)
        else:
            extra = head[slash + 1 :] if slash > 0 else head[1:]
            entry = ({}, conv, args[0][0], extra or None, parts[2] or None, pattern)
        rule = Rule(entry, _caller([a[0] for a in args], conv is not None))
        self.rules.append(rule)
        if slash > 0:
            groups = self.groups
            if groups is not None and head[: slash + 1] not in groups:
                # found by startswith, a group's entries are not checked against the path's
                # first segment: the groups' hashes must differ
                if _len(groups) < 3 * _FEW and h not in groups[1::3]:
                    part = self.index.get(_part(h))
                    if part is None:
                        part = self.index[_part(h)] = {}
                    groups.append(head[: slash + 1])
                    groups.append(h)
                    groups.append(part)
                else:
                    self.groups = None
        elif self.wild is None:
            self.wild = self.index.get(_WILD)
            if self.wild is None:
                self.wild = self.index[_WILD] = {}
        self.added += 1
        if self.added & 63 == 0:
            # garbage made while registering lies between the rules; collected now and then, the
            # rules stay packed and the heap keeps large free blocks (bench/routing.py: without
            # it 1,000 routes fail in a heap with most of its space free, in holes)
            _gc_collect()
        if not fixed:
            self.loose[h] = _append(self.loose.get(h), entry)
            for part in self.index.values():
                for key in part:
                    if key >> 8 == h and key & 255 >= slashes:
                        part[key] = _append(part[key], entry)
            return rule
        if bucket is None:
            for other in _entries(self.loose.get(h)):
                if _slashes(_split(other[5])) <= slashes:
                    bucket = _append(bucket, other)
        part = self.index.get(_part(h))  # made above for a new first segment in self.groups
        if part is None:
            part = self.index[_part(h)] = {}
        part[key] = _append(bucket, entry)
        return rule

    def find(self, path):
        """Return ({method: Endpoint}, args) of the first rule matching path, or (None, None)."""
        methods = self.static.get(path)
        if methods is not None:
            return methods, None
        m = self.match(path)
        if m is None:
            return None, None
        return m[0][0], self.args(m)

    @staticmethod
    def args(m):
        """The arguments by name of the rule of match ``m`` ([entry, argument], see match)."""
        e = m[0]
        return m[1] if e[1] is None else {e[2]: m[1]}

    def match(self, path):
        """[entry, argument] of the first dynamic rule matching path, or None: the rules whose
        first segment is literal come first, in registration order, then the others. The list
        is the same one on every call (no heap used): read it before the next match.
        ``args(match)`` is the rule's arguments by name."""
        return _route_match(self, path, last_match)


# builtins read as module globals, found faster
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


def _entries(bucket):
    if bucket is None:
        return ()
    return bucket if type(bucket) is list else (bucket,)


def _append(bucket, entry):
    # a bucket of one entry is that entry: no list for the routes alone in theirs
    if bucket is None:
        return entry
    if type(bucket) is not list:
        return [bucket, entry]
    bucket.append(entry)
    return bucket


# What Router.match returns, filled in again by each match: [entry, argument]. The argument is
# the value of a rule's one argument, or a dict of a regex rule's arguments by name.
last_match = [None, None]


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
