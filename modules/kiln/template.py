# Templates: the runtime that renders compiled templates. A template is compiled to a module
# (kiln.template_compiler explains its shape) either at firmware build time, then frozen as
# `kiln_templates.<module_name(name)>`, or on first use from the templates folder; rendering
# runs its generator with one of the two runtimes below (lenient or strict undefined).
#
# The syntax, a subset of Jinja2 with the same output (tests/templates/cases.py is checked
# against Jinja2):
#   {{ expr }}            output, HTML-escaped (& < > " ') unless the value is Markup
#   {# comment #}         {%- / -%} {{- / -}} {#- / -#} strip whitespace before / after a tag
#   {% raw %}..{% endraw %}
#   {% if e %}..{% elif e %}..{% else %}..{% endif %}
#   {% for x in xs %}..{% else %}..{% endfor %}   also `for k, v in d.items()`, `for x in xs if
#       cond`; loop.index, index0, revindex, revindex0, first, last, length, cycle(a, b); `else`
#       when nothing was iterated
#   {% set x = e %}  {% set a, b = e1, e2 %}  {% set x %}..{% endset %}   a set inside a for
#       stays in the loop
#   {% with a = e, b = e %}..{% endwith %}   {% filter upper|trim %}..{% endfilter %}
#   {% include "name" %} (any expression)        sees the context and the enclosing loop variables
#   {% extends "name" %} (first tag, a literal)  {% block b %}..{% endblock %}  {{ super() }}
#   {% macro m(a, b="literal") %}..{% endmacro %}   {{ m(1, b=2) }} (macros return Markup)
#   {% import "forms.html" as forms %}  {% from "forms.html" import input, label as lbl %}
#       (imported macros do not see the importer's context, as in Jinja)
#   expressions: literals (str, int, float, true/false/none, [..], {..}, (..)), a.b (item of a
#       dict, else attribute), a[b], a[1:2], calls with keyword arguments, + - * / // % **,
#       ~ (concatenate as str), == != < <= > >= in, not in, and or not, x if c else y,
#       `is` tests (defined undefined none odd even divisibleby string number mapping iterable
#       sequence), filters x|f and x|f(args)
#   filters: e/escape safe default/d length/count upper lower title trim capitalize replace
#       join int float round tojson urlencode string list first last, and add_filter(name, fn)
#   globals: range, dict, and anything added to template_globals
# Undefined names render empty (`missing.attr` too); strict mode raises UndefinedError naming
# template and line. Not supported: {% call %}, recursive loops, loop.previtem/nextitem/depth,
# scoped blocks, `ignore missing`, macro varargs.
import sys

# Settings: `folder` is used when no App exists (else App.template_folder); `strict` makes
# undefined values raise; `frozen_package = None` ignores frozen templates.
folder = "templates"
strict = False
frozen_package = "kiln_templates"

_MISS = object()
_cache = {}
# Module-level names for the builtins the hot paths test with: a builtin is looked up in this
# module's globals first, and a miss in a big globals dict costs more than the test itself.
_type = type
_str = str
_int = int
_dict = dict


class UndefinedError(Exception):
    """An undefined value was used in strict mode; the message names template and line."""


class TemplateNotFound(Exception):
    """No frozen template and no file in the templates folder has this name."""


class Markup:
    """A string that is already HTML: autoescaping leaves it alone, `+` and `%` escape the rest."""

    def __init__(self, s=""):
        self.s = s if type(s) is str else str(s)

    def __str__(self):
        return self.s

    def __html__(self):
        return self.s

    def __repr__(self):
        return "Markup(%r)" % self.s

    def __len__(self):
        return len(self.s)

    def __eq__(self, other):
        return self.s == (other.s if type(other) is Markup else other)

    def __hash__(self):
        return hash(self.s)

    def __add__(self, other):
        return Markup(self.s + _out(other))

    def __radd__(self, other):
        return Markup(_out(other) + self.s)

    def __mod__(self, args):
        if type(args) is not tuple:
            args = (args,)
        return Markup(self.s % tuple(a if type(a) in (int, float) else Markup(_out(a)) for a in args))

    def join(self, items):
        return Markup(self.s.join(_out(x) for x in items))


class Undefined:
    """The value of a name the context lacks: renders empty, or raises when strict."""

    def __init__(self, message="", strict=False):
        self._message = message
        self._strict = strict

    def _fail(self):
        if self._strict:
            raise UndefinedError(self._message)

    def __str__(self):
        self._fail()
        return ""

    def __iter__(self):
        self._fail()
        return iter(())

    def __len__(self):
        self._fail()
        return 0

    def __contains__(self, item):
        self._fail()
        return False

    def __bool__(self):
        self._fail()
        return False

    def __getattr__(self, name):
        self._fail()
        return self

    def __call__(self, *args, **kwargs):
        self._fail()
        return self


UNDEFINED = Undefined()


def _esc(s):
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if '"' in s:
        s = s.replace('"', "&#34;")
    if "'" in s:
        s = s.replace("'", "&#39;")
    return s


def _out(v):
    # The str a value renders as, HTML-escaped unless it is Markup (or has __html__). The hot
    # paths repeat _esc inline: on MicroPython a call costs more than these five tests.
    t = _type(v)
    if t is _str:
        if "&" in v:
            v = v.replace("&", "&amp;")
        if "<" in v:
            v = v.replace("<", "&lt;")
        if ">" in v:
            v = v.replace(">", "&gt;")
        if '"' in v:
            v = v.replace('"', "&#34;")
        if "'" in v:
            v = v.replace("'", "&#39;")
        return v
    if t is Markup:
        return v.s
    if t is _int:
        return _str(v)
    if t is Undefined:
        return _str(v)
    html = getattr(v, "__html__", None)
    if html is not None:
        return html()
    return _esc(str(v))


def escape(value):
    """HTML-escape `&<>"'` in str(value) and return Markup; Markup passes unchanged."""
    return Markup(_out(value))


# --- filters and tests: user-registered here; the built-in ones live in kiln.template_filters,
# imported the first time a template uses one (it costs heap to import).

filters = {}
tests = {}


def _f_safe(value):
    return value if type(value) is Markup else Markup(str(value))


# Names every template can use when the context does not define them.
template_globals = {"range": range, "dict": dict}


def add_filter(name, fn):
    """Register fn(value, *args) as filter `name` for every template (rendering resolves it)."""
    filters[name] = fn


def _builtin(table, name):
    from kiln import template_filters

    return getattr(template_filters, table).get(name)


# --- the runtime the generated code calls (as `_x`) --------------------------------------------


def _get(o, key, strict=False):
    # `o.key`: a dict item first, then an attribute, then an item of another mapping.
    if _type(o) is _dict:
        v = o.get(key, _MISS)
        if v is not _MISS:
            return v
    v = getattr(o, key, _MISS)
    if v is not _MISS:
        return v
    try:
        return o[key]
    except (KeyError, IndexError, TypeError):
        pass
    if strict:
        return Undefined("'%s' object has no attribute %r" % (type(o).__name__, key), True)
    return UNDEFINED


def _out_attr(o, key):
    # _out(_get(o, key)) in one call, for `{{ row.name }}` on a dict (the hot path of a table).
    if _type(o) is _dict:
        v = o.get(key, _MISS)
        if _type(v) is _str:
            if "&" in v:
                v = v.replace("&", "&amp;")
            if "<" in v:
                v = v.replace("<", "&lt;")
            if ">" in v:
                v = v.replace(">", "&gt;")
            if '"' in v:
                v = v.replace('"', "&#34;")
            if "'" in v:
                v = v.replace("'", "&#39;")
            return v
        if _type(v) is _int:
            return _str(v)
    return _out(_get(o, key))


def _item(o, key, strict=False):
    # `o[key]`: an item first, then an attribute when the key is a str.
    try:
        return o[key]
    except (KeyError, IndexError, TypeError):
        pass
    if type(key) is str and not isinstance(o, Undefined):
        v = getattr(o, key, _MISS)
        if v is not _MISS:
            return v
    if strict:
        return Undefined("'%s' object has no item %r" % (type(o).__name__, key), True)
    return UNDEFINED


def _cat(*parts):
    # `a ~ b`: str concatenation; with a Markup part, the others are escaped and the result is Markup.
    for p in parts:
        if type(p) is Markup:
            return Markup("".join(_out(p) for p in parts))
    return "".join(p if type(p) is str else str(p) for p in parts)


class Loop:
    """The `loop` variable of a {% for %}: index, index0, first, last, length, revindex..."""

    def __init__(self, seq):
        try:
            self.length = len(seq)
        except TypeError:
            seq = list(seq)
            self.length = len(seq)
        self.seq = seq
        self.index0 = -1

    index = property(lambda self: self.index0 + 1)
    revindex = property(lambda self: self.length - self.index0)
    revindex0 = property(lambda self: self.length - self.index0 - 1)
    first = property(lambda self: self.index0 == 0)
    last = property(lambda self: self.index0 == self.length - 1)

    def cycle(self, *values):
        return values[self.index0 % len(values)]


class _Runtime:
    # Helpers the generated code reads as `_x.<name>`; two instances: lenient and strict.
    def __init__(self, is_strict):
        self.strict = is_strict
        self.e = _out
        self.cat = _cat
        self.j = lambda chunks: Markup("".join(chunks))
        self.E = escape
        self.S = _f_safe
        self.L = Loop
        self.load = _load
        self.undef = Undefined("conditional expression without else", True) if is_strict else UNDEFINED
        if is_strict:
            self.g = lambda o, key: _get(o, key, True)
            self.i = lambda o, key: _item(o, key, True)
            self.ea = lambda o, key: _out(_get(o, key, True))
        else:
            self.g = _get
            self.i = _item
            self.ea = _out_attr

        def v(c, name, where):
            value = c.get(name, _MISS)
            if value is _MISS:
                value = template_globals.get(name, _MISS)
                if value is _MISS:
                    if is_strict:
                        return Undefined("%s: %r is undefined" % (where, name), True)
                    return UNDEFINED
            return value

        self.v = v
        self.inc = lambda name, c: _load(name).render(c, self)

    @staticmethod
    def mac(fn, c, rt):
        # A macro used as a value ({% set f = m %}): a callable returning Markup.
        return lambda *a, **k: Markup("".join(fn(c, rt, *a, **dict((n + "_", v) for n, v in k.items()))))

    def imp(self, name):
        # {% import name as m %} / {% from name import a %}: the template's macros, without the
        # importer's context (as in Jinja), as attributes of one object.
        m = _load(name)
        return _Compiled(dict((macro, self.mac(getattr(m, "_m_" + macro), {}, self))
                              for macro in getattr(m, "MACROS", ())))

    @staticmethod
    def ctx(c, local):
        d = dict(c)
        d.update(local)
        return d

    @staticmethod
    def sup(parent, block):
        attr = "_b_" + block
        m = _load(parent)
        while not hasattr(m, attr):
            m = _load(m.PARENT)
        return getattr(m, attr)

    @staticmethod
    def flt(name, where):
        fn = filters.get(name) or _builtin("FILTERS", name)
        if fn is None:
            raise UndefinedError("%s: no filter named %r" % (where, name))
        return fn

    @staticmethod
    def tst(name, where):
        fn = tests.get(name) or _builtin("TESTS", name)
        if fn is None:
            raise UndefinedError("%s: no test named %r" % (where, name))
        return fn



# --- loading: the templates folder's file (compiled once, kept in RAM) or the frozen module ----


def module_name(name):
    """The module a template is frozen as: "admin/user-list.html" -> "t_admin_user_list_html"."""
    return "t_" + "".join(c if ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9") else "_"
                          for c in name)


class _Compiled:
    # A template compiled at run time: the same attributes a frozen module has.
    def __init__(self, namespace):
        for key, value in namespace.items():
            setattr(self, key, value)


def _compile(source, name):
    from kiln.template_compiler import compile_source

    namespace = {}
    exec(compile_source(source, name), namespace)
    return _Compiled(namespace)


def _load(name):
    m = _cache.get(name)
    if m is None:
        m = _find(name)
        _cache[name] = m
    return m


def _folder():
    # The running App's template_folder when there is an App, else the module setting.
    app = sys.modules.get("kiln.app")
    app = app and app.current_app
    return app.template_folder if app is not None else folder


def _find(name):
    if name.startswith("/") or ".." in name.split("/"):
        raise TemplateNotFound("%s: a template name cannot leave the templates folder" % name)
    folder = _folder().rstrip("/")
    path = "%s/%s" % (folder, name)
    if frozen_package:
        mod = "%s.%s" % (frozen_package, module_name(name))
        try:
            __import__(mod)
        except ImportError:
            pass
        else:
            frozen = sys.modules[mod]
            if getattr(frozen, "NAME", None) == name:  # several names share a module
                # Frozen templates belong to the app they were built from: an app folder with
                # a file of this name uses that file, unless it is the frozen one's very source.
                same = _same_sources(frozen, folder)
                if same is None:
                    return frozen
                built = sys.modules[frozen_package].FOLDER
                if same:
                    print("Kiln: template %s: the frozen one (from %s), same as %s" % (name, built, path))
                    return frozen
                print("Kiln: template %s: %s, not the frozen one (from %s)" % (name, path, built))
    try:
        with open(path) as f:
            source = f.read()
    except OSError:
        raise TemplateNotFound("%s: no frozen template and no file %s" % (name, path)) from None
    return _compile(source, path)


def _same_sources(frozen, folder):
    # None when folder has no file of the frozen template's name, else whether its files
    # (the template's, then its inlined parents') have the sha256 the template was built from.
    import hashlib

    h = hashlib.sha256()
    for i, name in enumerate(frozen.SOURCES):
        try:
            f = open("%s/%s" % (folder, name), "rb")
        except OSError:
            return None if i == 0 else False
        with f:
            chunk = f.read(512)
            while chunk:
                h.update(chunk)
                chunk = f.read(512)
    return h.digest() == frozen.DIGEST


_RUNTIMES = [_Runtime(False), None]


def _runtime(is_strict):
    # The strict runtime is made on first use: most apps never pay for it.
    if is_strict and _RUNTIMES[1] is None:
        _RUNTIMES[1] = _Runtime(True)
    return _RUNTIMES[1 if is_strict else 0]


def clear_cache():
    """Forget templates compiled from the filesystem (after editing them on the device)."""
    _cache.clear()


class Template:
    """A compiled template. Template(source, name=...) compiles source now; get_template(name)
    returns the frozen or filesystem one. strict=True makes undefined values raise (default: the
    module setting `strict`)."""

    def __init__(self, source=None, name="<template>", strict=None, module=None):
        self.name = name
        self.strict = strict
        self.module = module if module is not None else _compile(source, name)

    def generate(self, **ctx):
        """Render lazily: an iterator of str chunks."""
        return self.module.render(ctx, _runtime(strict if self.strict is None else self.strict))

    def render(self, **ctx):
        """Render to one str."""
        return "".join(self.generate(**ctx))


def get_template(name, strict=None):
    """The Template called `name` in the templates folder (App.template_folder, default
    "templates"), compiled on first use and kept; the one frozen at build time when the folder
    has no file of that name or the very file it was built from."""
    return Template(name=name, strict=strict, module=_load(name))


def render_template(template_name, **ctx):
    """A Response that streams the template `template_name` rendered with ctx (chunked transfer
    encoding)."""
    from kiln.response import Response

    body = _load(template_name).render(ctx, _runtime(strict))
    return Response(body, headers={"Content-Type": "text/html; charset=utf-8"})
