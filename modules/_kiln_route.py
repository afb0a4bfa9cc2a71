# kiln_route.c's route_match for the pure-Python _kiln: kiln.routing.Router.match on the
# structures the router builds (groups, index, loose, wild and the entry tuples, described in
# modules/kiln/routing.py). The lookup is split in small functions with few locals, reused: a
# function whose frame has more than 11 words gets it from the heap, ~2,000 instructions.

_len = len  # builtins the lookup reads, found faster as module globals
_hash = hash
_memoryview = memoryview
_type = type
_tuple = tuple
_int_type = int
_str = str


def route_match(router, path, out):
    """The first dynamic rule of router matching path: out (a list of two) filled with
    [entry, argument] and returned, else None (see kiln.routing.Router.match)."""
    n = path.count("/")
    if n > 255:
        n = 255  # no bucket has as many: a rule with a slash count has fewer
    g = router.groups
    if g is None:
        g = _hashed(router, path, n, out)
    else:
        i = 0
        while i < _len(g):  # no iterator object per request
            if path.startswith(g[i]):
                # the bucket (g[i + 2] is the index part of hash g[i + 1]), else the loose
                # rules; the path's first segment is checked
                b = g[i + 2].get(g[i + 1] * 256 + n) or router.loose.get(g[i + 1])
                i = _len(g[i])  # where the text after "/first/" begins
                g = None if b is None else _scan(b, path, None, i, out)
                break
            i += 3
        else:
            g = None
    if g is None and router.wild is not None:
        g = router.wild.get(n - 256) or router.loose.get(-1)  # the key of first segment -1
        if g is not None:
            return _scan(g, path, None, 1, out)
    return g


def _hashed(router, path, n, out):
    # the rules of the path's first segment once there are too many for router.groups
    i = path.find("/", 1) + 1
    if i <= 0:
        return None
    key = path[1:i]  # "first/": checked against the entries found by its hash
    n = _lookup(router.index, router.loose, n + _hash(key) * 256)
    return None if n is None else _scan(n, path, key, i, out)


def _lookup(index, loose, key):
    # the bucket of key (hash * 256 + slash count), else the rules without a slash count
    h = key >> 8
    bucket = index.get((h ^ (h >> 6) ^ (h >> 12)) & 63)  # the index part of h
    if bucket is not None:
        bucket = bucket.get(key)
    return loose.get(h) if bucket is None else bucket


def _scan(bucket, path, first, start, out):
    if _type(bucket) is _tuple:  # a bucket of one entry
        return _match(bucket, path, first, start, out)
    i = 0
    while i < _len(bucket):  # no iterator object per request
        found = _match(bucket[i], path, first, start, out)
        if found is not None:
            return found
        i += 1
    return None


def _match(e, path, first, start, out):
    # e: an entry; first: the path's "first/" when the bucket was found by its hash, which other
    # segments may share; start: where the text after "/first/" (or "/") begins
    # (a truth test costs less than `is None`, a call to mp_binary_op: conv, first, extra
    # and suffix are None or true)
    if not e[1]:
        return _match_regex(e, path, out)
    if first and not e[5].startswith(first, 1):
        return None
    # the bucket's slash count is the path's: between prefix and suffix is one segment
    first = e[3]
    if first:
        if not path.startswith(first, start):
            return None
        start += _len(first)
    first = e[4]
    if not first:
        first = _len(path)  # the end of the argument
    elif path.endswith(first):
        first = _len(path) - _len(first)
    else:
        return None
    if first <= start:
        return None
    if e[1] is not _int_type:
        first = path[start:first]
        if e[1] is not _str:
            return _convert(e, first, out)
        out[0] = e
        out[1] = first
        return out
    # An int: its digits are read from the path's bytes (a memoryview is one small object, where
    # a slice would be a str, two objects and a search of the interned strings). The text
    # before start is the rule's, ASCII (kiln.routing makes an int entry for no other), so start
    # is also a byte index, and so is a character of the argument up to its first non-ASCII
    # one, which is no digit.
    path = _memoryview(path)
    sign = 1
    if path[start] == 45:  # "-"
        sign = -1
        start += 1
        if start == first:
            return None
    value = 0
    while start < first:
        n = path[start] - 48  # "0"
        if n < 0 or n > 9:
            return None
        value = value * 10 + n
        start += 1
    out[0] = e
    out[1] = value * sign
    return out


def _match_regex(e, path, out):
    try:
        m = e[3].match(path)
    except RuntimeError:
        # MicroPython's re recurses per character: a path too long for the stack (about 1000
        # characters on unix, 600 in the 32-bit build, fewer on a device) matches nothing
        return None
    if m is None:
        return None
    m = _groups(m, e[2])
    return None if m is None else _matched(e, m, out)


def _matched(e, arg, out):
    out[0] = e
    out[1] = arg
    return out


def _convert(e, text, out):
    conv = e[1]
    try:
        if conv[0].match(text) is None:
            return None
    except RuntimeError:  # too long for MicroPython's recursive re (see _match_regex)
        return None
    if conv[1] is not None:
        try:
            text = conv[1](text)
        except ValueError:
            return None
    return _matched(e, text, out)


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
