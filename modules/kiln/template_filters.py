# The built-in template filters and tests, imported by kiln.template the first time a template
# uses one (templates that use none do not pay for this module's heap).
from kiln.template import UNDEFINED, Markup, Undefined, _f_safe, _get, _out, escape


def _keep(value, fn):
    # Apply a str -> str function, keeping Markup as Markup (like Jinja's string filters).
    if type(value) is Markup:
        return Markup(fn(value.s))
    return fn(str(value))


def _f_replace(value, old, new, count=-1):
    if type(value) is Markup:
        # The arguments are text: escaped before they go into markup.
        return Markup(value.s.replace(_out(old), _out(new), count))
    return str(value).replace(old, new, count)


def _title(s):
    out = []
    up = True
    for c in s:
        if c.isspace() or c in "-([{<":
            up = True
            out.append(c)
        elif up:
            up = False
            out.append(c.upper())
        else:
            out.append(c.lower())
    return "".join(out)


def _f_default(value, default="", boolean=False):
    if isinstance(value, Undefined) or (boolean and not value):
        return default
    return value


def _f_join(value, d="", attribute=None):
    items = list(value) if attribute is None else [_get(x, attribute) for x in value]
    if any(type(x) is Markup for x in items) or type(d) is Markup:
        return Markup(_out(d).join(_out(x) for x in items))
    return str(d).join(str(x) for x in items)


def _f_int(value, default=0, base=10):
    try:
        if isinstance(value, str):
            return int(value, base)
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return default


def _f_float(value, default=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _f_round(value, precision=0, method="common"):
    if method == "common":
        return round(value, precision)
    import math

    fn = math.ceil if method == "ceil" else math.floor
    scale = 10 ** precision
    return fn(value * scale) / scale


def _json(value, out):
    import json

    if isinstance(value, dict):
        out.append("{")
        for n, key in enumerate(sorted(value)):
            out.append(", " if n else "")
            out.append(json.dumps(str(key)))
            out.append(": ")
            _json(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for n, item in enumerate(value):
            out.append(", " if n else "")
            _json(item, out)
        out.append("]")
    else:
        out.append(json.dumps(value.s if type(value) is Markup else value))


def _f_tojson(value):
    out = []
    _json(value, out)
    s = "".join(out)
    for c, u in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        s = s.replace(c, u)
    return Markup(s)


_URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def _quote(value, for_qs):
    out = []
    for b in str(value).encode():
        c = chr(b)
        if c in _URL_SAFE or (c == "/" and not for_qs):
            out.append(c)
        elif c == " " and for_qs:
            out.append("+")
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def _f_urlencode(value):
    if isinstance(value, str):
        return _quote(value, False)
    items = value.items() if isinstance(value, dict) else value
    return "&".join("%s=%s" % (_quote(k, True), _quote(v, True)) for k, v in items)


def _f_length(value):
    return len(value)


FILTERS = {
    "e": escape,
    "escape": escape,
    "safe": _f_safe,
    "default": _f_default,
    "d": _f_default,
    "length": _f_length,
    "count": _f_length,
    "upper": lambda v: _keep(v, lambda s: s.upper()),
    "lower": lambda v: _keep(v, lambda s: s.lower()),
    "title": lambda v: _keep(v, _title),
    "trim": lambda v, chars=None: _keep(v, lambda s: s.strip() if chars is None else s.strip(chars)),
    "join": _f_join,
    "int": _f_int,
    "float": _f_float,
    "round": _f_round,
    "tojson": _f_tojson,
    "urlencode": _f_urlencode,
    "string": lambda v: v if type(v) is Markup else str(v),
    "list": list,
    "first": lambda v: next(iter(v), UNDEFINED),
    "last": lambda v: list(v)[-1] if len(v) else UNDEFINED,
    "capitalize": lambda v: _keep(v, lambda s: s[:1].upper() + s[1:].lower()),
    "replace": _f_replace,
}


def _t_iterable(value):
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _t_sequence(value):
    try:
        len(value)
    except TypeError:
        return False
    return True


TESTS = {
    "defined": lambda v: not isinstance(v, Undefined),
    "undefined": lambda v: isinstance(v, Undefined),
    "none": lambda v: v is None,
    "odd": lambda v: v % 2 == 1,
    "even": lambda v: v % 2 == 0,
    "divisibleby": lambda v, n: v % n == 0,
    "string": lambda v: isinstance(v, (str, Markup)),
    "number": lambda v: isinstance(v, (int, float)),
    "mapping": lambda v: isinstance(v, dict),
    "iterable": _t_iterable,
    "sequence": _t_sequence,
}
