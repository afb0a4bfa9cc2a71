# Template compiler: Jinja-like template source -> Python source of a module whose `render`
# function returns a generator of str chunks. Runs on CPython (tools/compile_templates.py, at
# firmware build time) and on MicroPython (templates on the filesystem, compiled once), so it
# uses only str methods, lists and dicts: no `re`, no f-strings.
#
# The generated module (run by kiln.template's runtime `_x`):
#   PARENT = "base.html"                  only when the template extends another
#   MACROS = ("name", ...)                only when it defines macros ({% import %} reads it)
#   def render(_c, _x, _b=None)           _c: context dict; _b: blocks, most derived first
#   def _b_<block>(_c, _x, _b)            one generator per {% block %}
#   def _m_<macro>(_c, _x, params...)     one generator per {% macro %}
#   def _flat(_c, _x)                     the whole inheritance chain in one generator, when
#                                         compiled with a loader (see _Compiler.flatten)
# Template variables become Python locals named `<name>_` (loop variables `<name>_<n>`), read
# from the context once at function start; helpers are `_`-prefixed locals taken from `_x`.
# Each statement carries a `# template:line` comment. The output is the same text on CPython
# and MicroPython (tests/test_template_tools.py checks it).


class TemplateSyntaxError(ValueError):
    """A template that cannot be compiled; the message starts with `name:line:`."""


class _NoFlat(Exception):
    # This inheritance chain cannot be compiled into one function: keep the block functions.
    pass


_KEYWORDS = ("and", "or", "not", "in", "is", "if", "else")
_CONST = {"true": "True", "false": "False", "none": "None", "True": "True", "False": "False",
          "None": "None"}
_OPS2 = ("**", "//", "==", "!=", "<=", ">=")
_OPS1 = "+-*/%~<>()[]{},.:|="
# Filters compiled to a helper instead of a filter lookup.
_INLINE_FILTERS = {"e": "_E", "escape": "_E", "safe": "_S"}
# loop.<attr> inside its own for, computed in place (L is the loop object's variable); `loop`
# used as a value is a kiln.template.Loop, whose properties compute the same.
_LOOP_ATTRS = {"index": "(L.index0 + 1)", "index0": "L.index0", "first": "(L.index0 == 0)",
               "last": "(L.index0 == L.length - 1)", "length": "L.length",
               "revindex": "(L.length - L.index0)", "revindex0": "(L.length - L.index0 - 1)",
               "cycle": "L.cycle"}


def _is_name_start(c):
    return c == "_" or c.isalpha()


def _is_name_char(c):
    return c == "_" or c.isalpha() or c.isdigit()


def _lex_expr(src, err):
    """Split an expression into (kind, value) tokens: name, num, str (decoded), op."""
    toks = []
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif _is_name_start(c):
            j = i + 1
            while j < n and _is_name_char(src[j]):
                j += 1
            toks.append(("name", src[i:j]))
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and (src[j].isdigit() or src[j] == "_"):
                j += 1
            if j + 1 < n and src[j] == "." and src[j + 1].isdigit():
                j += 1
                while j < n and src[j].isdigit():
                    j += 1
            if j < n and src[j] in "eE":
                k = j + 1
                if k < n and src[k] in "+-":
                    k += 1
                if k < n and src[k].isdigit():
                    j = k
                    while j < n and src[j].isdigit():
                        j += 1
            toks.append(("num", src[i:j].replace("_", "")))
            i = j
        elif c == "'" or c == '"':
            out = []
            j = i + 1
            while True:
                if j >= n:
                    err("unclosed string literal")
                d = src[j]
                if d == c:
                    break
                if d == "\\" and j + 1 < n:
                    j += 1
                    d = src[j]
                    d = {"n": "\n", "t": "\t", "r": "\r"}.get(d, d)
                out.append(d)
                j += 1
            toks.append(("str", "".join(out)))
            i = j + 1
        elif src[i:i + 2] in _OPS2:
            toks.append(("op", src[i:i + 2]))
            i += 2
        elif c in _OPS1:
            toks.append(("op", c))
            i += 1
        else:
            err("unexpected character %r" % c)
    return toks


class _Expr:
    """Recursive-descent translation of one Jinja expression into a Python expression."""

    def __init__(self, fn, src):
        self.fn = fn
        self.src = src
        self.toks = _lex_expr(src, self.err)
        self.pos = 0

    def err(self, msg):
        src = self.src.strip()
        self.fn.c.error("%s in %r" % (msg, src if len(src) < 60 else src[:56] + "..."))

    def peek(self, value=None, kind=None):
        if self.pos >= len(self.toks):
            return False
        k, v = self.toks[self.pos]
        if kind is not None:
            return k == kind
        return v == value and (k == "op" or k == "name")

    def take(self, value=None, kind=None):
        if not self.peek(value, kind):
            if self.pos >= len(self.toks):
                self.err("expected %s at the end" % (value or kind))
            self.err("expected %s before %r" % (value or kind, self.toks[self.pos][1]))
        self.pos += 1
        return self.toks[self.pos - 1][1]

    def at_end(self):
        return self.pos >= len(self.toks)

    def whole(self):
        code = self.expr()
        if not self.at_end():
            self.err("unexpected %r" % self.toks[self.pos][1])
        return code

    def expr(self):
        code = self.or_()
        if self.peek("if"):
            self.pos += 1
            cond = self.or_()
            other = "_x.undef"
            if self.peek("else"):
                self.pos += 1
                other = self.expr()
            code = "(%s if %s else %s)" % (code, cond, other)
        return code

    def or_(self):
        code = self.and_()
        while self.peek("or"):
            self.pos += 1
            code = "(%s or %s)" % (code, self.and_())
        return code

    def and_(self):
        code = self.not_()
        while self.peek("and"):
            self.pos += 1
            code = "(%s and %s)" % (code, self.not_())
        return code

    def not_(self):
        if self.peek("not"):
            self.pos += 1
            return "(not %s)" % self.not_()
        return self.compare()

    def compare(self):
        code = self.math1()
        parts = []
        while True:
            tok = self.toks[self.pos] if self.pos < len(self.toks) else ("", "")
            if tok[0] != "str" and tok[1] in ("==", "!=", "<", "<=", ">", ">=", "in"):
                op = self.take(tok[1])
            elif self.peek("not") and self.pos + 1 < len(self.toks) and self.toks[self.pos + 1][1] == "in":
                self.pos += 2
                op = "not in"
            else:
                break
            parts.append(" %s %s" % (op, self.math1()))
        return "(%s%s)" % (code, "".join(parts)) if parts else code

    def math1(self):
        code = self.concat()
        while self.peek("+") or self.peek("-"):
            op = self.take(self.toks[self.pos][1])
            code = "(%s %s %s)" % (code, op, self.concat())
        return code

    def concat(self):
        code = self.math2()
        if not self.peek("~"):
            return code
        parts = [code]
        while self.peek("~"):
            self.pos += 1
            parts.append(self.math2())
        return "%s(%s)" % (self.fn.use("cat"), ", ".join(parts))

    def math2(self):
        code = self.power()
        while self.peek("*") or self.peek("/") or self.peek("//") or self.peek("%"):
            op = self.take(self.toks[self.pos][1])
            code = "(%s %s %s)" % (code, op, self.power())
        return code

    def power(self):
        code = self.unary()
        while self.peek("**"):
            self.pos += 1
            code = "(%s ** %s)" % (code, self.unary())
        return code

    def unary(self, with_filters=True):
        if self.peek("-") or self.peek("+"):
            op = self.take(self.toks[self.pos][1])
            code = "(%s%s)" % (op, self.unary(False))
        else:
            code = self.postfix(self.primary())
        return self.filters(code) if with_filters else code

    def args(self, close, suffix=""):
        """Call arguments up to `close`, as Python source; keyword names get `suffix`."""
        out = []
        while not self.peek(close):
            if (self.peek(kind="name") and self.pos + 1 < len(self.toks)
                    and self.toks[self.pos + 1] == ("op", "=")):
                name = self.take(kind="name")
                self.pos += 1
                out.append("%s%s=%s" % (name, suffix, self.expr()))
            else:
                out.append(self.expr())
            if not self.peek(close):
                self.take(",")
        self.take(close)
        return ", ".join(out)

    def primary(self):
        if self.at_end():
            self.err("expected an expression")
        kind, value = self.toks[self.pos]
        self.pos += 1
        if kind == "num":
            return value
        if kind == "str":
            while self.peek(kind="str"):
                value += self.take(kind="str")
            return _lit(value)
        if kind == "name":
            if value in _CONST:
                return _CONST[value]
            if value in _KEYWORDS:
                self.err("unexpected %r" % value)
            if self.peek("("):
                special = self.fn.call(value, self)
                if special is not None:
                    return special
            return self.fn.name(value)
        if value == "(":
            if self.peek(")"):
                self.pos += 1
                return "()"
            code = self.expr()
            if self.peek(","):
                items = [code]
                while self.peek(","):
                    self.pos += 1
                    if self.peek(")"):
                        break
                    items.append(self.expr())
                code = "(%s,)" % ", ".join(items)
            self.take(")")
            return code
        if value == "[":
            items = []
            while not self.peek("]"):
                items.append(self.expr())
                if not self.peek("]"):
                    self.take(",")
            self.pos += 1
            return "[%s]" % ", ".join(items)
        if value == "{":
            items = []
            while not self.peek("}"):
                key = self.expr()
                self.take(":")
                items.append("%s: %s" % (key, self.expr()))
                if not self.peek("}"):
                    self.take(",")
            self.pos += 1
            return "{%s}" % ", ".join(items)
        self.err("unexpected %r" % value)

    def postfix(self, code):
        while True:
            if self.peek("."):
                self.pos += 1
                if self.peek(kind="num"):
                    code = "%s(%s, %s)" % (self.fn.use("i"), code, self.take(kind="num"))
                elif self.fn.loops and code in [loop[0] for loop in self.fn.loops]:
                    attr = self.take(kind="name")
                    if attr not in _LOOP_ATTRS:
                        self.err("loop has no attribute %r" % attr)
                    code = _LOOP_ATTRS[attr].replace("L", code)
                else:
                    code = "%s(%s, %r)" % (self.fn.use("g"), code, self.take(kind="name"))
            elif self.peek("["):
                self.pos += 1
                parts = [""]
                while not self.peek("]"):
                    if self.peek(":"):
                        self.pos += 1
                        parts.append("")
                    elif parts[-1]:
                        self.err("expected ] or :")
                    else:
                        parts[-1] = self.expr()
                self.pos += 1
                if len(parts) == 1:
                    code = "%s(%s, %s)" % (self.fn.use("i"), code, parts[0])
                else:
                    code = "%s[%s]" % (code, ":".join(parts))
            elif self.peek("("):
                self.pos += 1
                code = "%s(%s)" % (code, self.args(")"))
            else:
                return code

    def filters(self, code):
        while True:
            if self.peek("|"):
                self.pos += 1
                name = self.take(kind="name")
                args = ""
                if self.peek("("):
                    self.pos += 1
                    args = self.args(")")
                if name in _INLINE_FILTERS and not args:
                    code = "%s(%s)" % (self.fn.use(_INLINE_FILTERS[name][1:]), code)
                else:
                    code = "%s(%s%s)" % (self.fn.filter(name), code, ", " + args if args else "")
            elif self.peek("is"):
                self.pos += 1
                negate = self.peek("not")
                if negate:
                    self.pos += 1
                name = self.take(kind="name")
                if name in _CONST:
                    name = _CONST[name].lower()
                args = ""
                if self.peek("("):
                    self.pos += 1
                    args = ", " + self.args(")")
                elif self.pos < len(self.toks) and self.toks[self.pos][0] in ("num", "str"):
                    args = ", " + self.primary()
                code = "%s%s(%s%s)" % ("not " if negate else "", self.fn.test(name), code, args)
                code = "(%s)" % code
            else:
                return code


class _Func:
    """One generated Python function: its lines, its scopes and the names it reads."""

    def __init__(self, c, header, root=False):
        self.c = c
        self.header = header
        self.root = root
        self.flat = False
        self.last_where = None
        self.lines = []
        self.indent = 1
        self.scopes = [{}]
        self.free = {}
        self.helpers = []
        self.uses = {}
        self.filters = {}
        self.tests = {}
        self.loops = []
        self.pending = []
        self.yields = False

    def emit(self, code):
        self.flush()
        where = self.c.where()
        if where != self.last_where:
            # Where each statement comes from, for whoever reads a traceback into this code.
            self.last_where = where
            code += "  # " + where
        self.lines.append("    " * self.indent + code)

    def text(self, s):
        if s:
            self.pending.append(s)

    def flush(self):
        if self.pending:
            s = "".join(self.pending)
            self.pending = []
            self.lines.append("    " * self.indent + "yield " + _lit(s))
            self.yields = True

    def use(self, helper):
        if helper not in self.helpers:
            self.helpers.append(helper)
            self.uses[helper] = 0
        self.uses[helper] += 1
        return "_" + helper

    def filter(self, name):
        if name not in self.filters:
            self.filters[name] = ("_f_%d" % len(self.filters), self.c.where())
        return self.filters[name][0]

    def test(self, name):
        if name not in self.tests:
            self.tests[name] = ("_t_%d" % len(self.tests), self.c.where())
        return self.tests[name][0]

    def up(self):
        self.flush()
        self.indent += 1

    def down(self):
        self.flush()
        self.indent -= 1

    def lookup(self, name):
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def name(self, name):
        if name == "loop" and self.loops:
            self.loops[-1][1] = True
            return self.loops[-1][0]
        found = self.lookup(name)
        if found:
            return found
        if name in self.c.macros:
            return "%s(_m_%s, _c, _x)" % (self.use("mac"), name)
        if name not in self.free:
            self.free[name] = (len(self.free), self.c.where())
        return name + "_"

    def call(self, name, expr):
        """Calls compiled specially (macros, super()); None for an ordinary call."""
        if self.lookup(name):
            return None
        if name in self.c.macros:
            expr.pos += 1
            args = expr.args(")", "_")
            return "%s(_m_%s(_c, _x%s))" % (self.use("j"), name, ", " + args if args else "")
        if name == "super":
            if self.flat:
                raise _NoFlat()
            expr.pos += 1
            expr.take(")")
            if self.c.parent is None or self.c.block is None:
                self.c.error("super() is only allowed in a block of a template that extends another")
            return "%s(%s(%s, %r)(_c, _x, _b))" % (self.use("j"), self.use("sup"), _lit(self.c.parent),
                                                   self.c.block)
        return None

    def expr(self, src):
        return _Expr(self, src).whole()

    def bind(self, name, unique):
        """A template variable assigned here (set, for): its Python name in the current scope."""
        if not _is_name_start(name[0]) or not all(_is_name_char(c) for c in name):
            self.c.error("%r is not a valid variable name" % name)
        py = name + ("_%d" % self.c.counter() if unique else "_")
        self.scopes[-1][name] = py
        return py

    def source(self):
        self.flush()
        if not self.yields and not self.c.child_render(self):
            self.lines.append("    return")
            self.lines.append("    yield")
        if self.filters:
            self.use("flt")
        if self.tests:
            self.use("tst")
        if self.free:
            self.use("v")
        pro = ["    _%s = _x.%s" % (h, h) for h in self.helpers if self.uses[h]]
        # In order of first use (MicroPython's dicts do not keep insertion order).
        for name, (py, where) in sorted(self.filters.items(), key=lambda kv: int(kv[1][0][3:])):
            pro.append("    %s = _flt(%r, %s)" % (py, name, _lit(where)))
        for name, (py, where) in sorted(self.tests.items(), key=lambda kv: int(kv[1][0][3:])):
            pro.append("    %s = _tst(%r, %s)" % (py, name, _lit(where)))
        for name, (_n, where) in sorted(self.free.items(), key=lambda kv: kv[1][0]):
            pro.append("    %s_ = _v(_c, %r, %s)" % (name, name, _lit(where)))
        return "\n".join([self.header] + pro + self.lines) + "\n"


class _Compiler:
    def __init__(self, source, name, loader=None):
        self.name = name
        self.loader = loader
        self.line = 1
        self.parent = None
        self.block = None
        self.blocks = []
        self.macros = {}
        self.funcs = []
        self.n = 0
        self.tokens = self.tokenize(source)
        for kind, text, line in self.tokens:
            if kind == "stmt" and text.split(None, 1)[0] == "macro":
                self.line = line
                self.macros[self.macro_name(text)] = True

    def error(self, msg):
        raise TemplateSyntaxError("%s:%d: %s" % (self.name, self.line, msg))

    def where(self):
        return "%s:%d" % (self.name, self.line)

    def counter(self):
        self.n += 1
        return self.n

    def child_render(self, fn):
        return self.parent is not None and fn is self.funcs[0]

    # --- lexing: text, {{ var }}, {% stmt %}, {# comment #}, whitespace control, raw ---------

    def tag_end(self, src, start, end):
        """Index of `end` closing the tag whose content starts at `start` (skips quoted strings)."""
        i = start
        quote = None
        n = len(src)
        while i < n:
            c = src[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif c == "'" or c == '"':
                quote = c
            elif c == end[0] and src[i + 1:i + 2] == end[1]:
                return i
            i += 1
        return -1

    def tokenize(self, src):
        if src.endswith("\n"):
            src = src[:-1]
        toks = []
        pos = 0
        n = len(src)
        strip = False
        while pos <= n:
            i = src.find("{", pos)
            while i >= 0 and src[i + 1:i + 2] not in ("{", "%", "#"):
                i = src.find("{", i + 1)
            if i < 0 or i + 1 >= n:
                i = n
            text = src[pos:i]
            if strip:
                text = text.lstrip()
            if i < n and src[i + 2:i + 3] == "-":
                text = text.rstrip()
            if text:
                toks.append(("text", text, self.line))
            self.line += src.count("\n", pos, i)
            if i >= n:
                break
            opener = src[i + 1]
            end = {"{": "}}", "%": "%}", "#": "#}"}[opener]
            if opener == "#":
                j = src.find("#}", i + 2)
            else:
                j = self.tag_end(src, i + 2, end)
            if j < 0:
                self.error("unclosed %s" % src[i:i + 2])
            content = src[i + 2:j]
            strip = content.endswith("-")
            if content.startswith("-"):
                content = content[1:]
            if strip:
                content = content[:-1]
            line = self.line
            self.line += src.count("\n", i, j)
            pos = j + 2
            if opener == "{":
                toks.append(("var", content, line))
            elif opener == "%":
                if not content.strip():
                    self.line = line
                    self.error("empty {% %}")
                if content.strip() == "raw":
                    pos, strip = self.raw(src, pos, strip, toks)
                else:
                    toks.append(("stmt", content.strip(), line))
        return toks

    def raw(self, src, pos, strip, toks):
        start_line = self.line
        i = pos
        while True:
            i = src.find("{%", i)
            if i < 0:
                self.line = start_line
                self.error("unclosed {% raw %}")
            j = self.tag_end(src, i + 2, "%}")
            content = src[i + 2:j] if j > 0 else ""
            if content.strip("- \t\r\n") == "endraw":
                break
            i += 2
        text = src[pos:i]
        if strip:
            text = text.lstrip()
        if content.startswith("-"):
            text = text.rstrip()
        if text:
            toks.append(("text", text, start_line))
        self.line += src.count("\n", pos, j)
        return j + 2, content.endswith("-")

    # --- parsing and code generation ------------------------------------------------------

    def macro_name(self, text):
        rest = text[5:].strip()
        i = rest.find("(")
        name = (rest[:i] if i >= 0 else rest).strip()
        if not name or not all(_is_name_char(c) for c in name):
            self.error("expected {% macro name(params) %}")
        return name

    def extends(self):
        """The parent's name and the index of the first token after {% extends %}, or (None, 0)."""
        first = self.next_significant()
        if first is None or first[0] != "stmt" or first[1].split(None, 1)[0] != "extends":
            return None, 0
        self.line = first[2]
        toks = _lex_expr(first[1][7:], self.error)
        if len(toks) != 1 or toks[0][0] != "str":
            self.error("{% extends %} takes a template name in quotes")
        return toks[0][1], self.tokens.index(first) + 1

    def compile(self):
        root = _Func(self, "def render(_c, _x, _b=None):", True)
        self.funcs.append(root)
        self.parent, self.pos = self.extends()
        end = self.body(root, ())
        if end is not None:
            self.error("unexpected {%% %s %%}" % end)
        if self.parent is not None:
            root.emit("return _x.load(%s).render(_c, _x, _b)" % _lit(self.parent))
        if self.blocks:
            reg = ["    if _b is None:", "        _b = {}"]
            for b in self.blocks:
                reg.append("    if %r not in _b:" % b)
                reg.append("        _b[%r] = _b_%s" % (b, b))
            root.lines[0:0] = reg
        if self.parent is not None and self.loader is not None:
            try:
                flat = self.flatten()
            except _NoFlat:
                flat = None
            if flat is not None:
                root.lines[0:0] = ["    if _b is None:", "        return _flat(_c, _x)"]
                self.funcs.append(flat)
        out = ["# Compiled by Kiln from %s: do not edit." % self.name]
        if self.parent is not None:
            out.append("PARENT = " + _lit(self.parent))
        if self.macros:
            out.append("MACROS = %r" % (tuple(self.macros),))
        for fn in self.funcs:
            out.append(fn.source())
        return "\n".join(out)

    # --- one function for a whole inheritance chain (when the compiler can read the parents) ---
    # render() of a template that extends another normally registers its blocks and delegates
    # to the parent's render(), so every chunk of a block passes through `yield from`. With a
    # loader (the build-time tool has one), the chain is also compiled into `_flat`: the root
    # template's code with the most derived version of each block inlined; render() uses it
    # unless a template compiled at run time extends this one. A chain whose parents define
    # macros, or that uses super() inside an expression, keeps the block functions only.

    def flatten(self):
        chain = [(self.name, self.tokens)]
        parent = self.parent
        while parent is not None:
            found = self.loader(parent)
            if found is None:
                return None
            other = _Compiler(found[0], found[1])
            if other.macros or len(chain) > 16:
                return None
            chain.append((found[1], other.tokens))
            parent = other.extends()[0]
        self.chain = chain
        self.ranges = [_block_ranges(tokens) for _name, tokens in chain]
        self.child_macros = self.macros
        self.flat_block = None
        fn = _Func(self, "def _flat(_c, _x):", True)
        fn.flat = True
        saved = self.name, self.tokens, self.pos, self.line, self.macros, self.parent
        try:
            self.parent = None
            for k in range(len(chain) - 1):
                # Top-level {% set %} of the extending templates, most derived first.
                for tok in _top_level_sets(chain[k][1]):
                    self.use_chain(k, [tok], 0)
                    self.body(fn, ())
            self.use_chain(len(chain) - 1, chain[-1][1], 0)
            self.body(fn, ())
        finally:
            self.name, self.tokens, self.pos, self.line, self.macros, self.parent = saved
        return fn

    def use_chain(self, k, tokens, pos):
        self.flat_k = k
        self.name = self.chain[k][0]
        self.macros = self.child_macros if k == 0 else {}
        self.tokens = tokens
        self.pos = pos

    def inline_block(self, fn, name, start):
        """Compile the most derived body of block `name` (from chain[start] up) into fn."""
        for k in range(start, len(self.chain)):
            if name in self.ranges[k]:
                break
        else:
            self.error("super(): no parent template defines block %r" % name)
        saved = self.name, self.tokens, self.pos, self.line, self.macros, self.flat_k, self.flat_block
        scopes, loops = fn.scopes, fn.loops
        # Like a block function: the body sees the context, not the enclosing loops or sets.
        fn.scopes = [{}, {}]
        fn.loops = []
        first, end = self.ranges[k][name]
        self.use_chain(k, self.chain[k][1][:end], first)
        self.flat_block = name
        self.body(fn, ())
        fn.scopes, fn.loops = scopes, loops
        self.name, self.tokens, self.pos, self.line, self.macros, self.flat_k, self.flat_block = saved

    def next_significant(self):
        for tok in self.tokens:
            if tok[0] != "text" or tok[1].strip():
                return tok
        return None

    def body(self, fn, ends):
        """Compile tokens into fn until a statement whose keyword is in `ends`; return it."""
        child_top = self.parent is not None and fn is self.funcs[0]
        while self.pos < len(self.tokens):
            kind, text, line = self.tokens[self.pos]
            self.pos += 1
            self.line = line
            if kind == "text":
                if not child_top:
                    fn.text(text)
            elif kind == "var":
                if not child_top:
                    self.output(fn, text)
            else:
                word = text.split(None, 1)[0]
                if word in ends:
                    return text
                handler = getattr(self, "stmt_" + word, None)
                if handler is None:
                    if word.startswith("end") or word in ("else", "elif"):
                        self.error("unexpected {%% %s %%}" % word)
                    self.error("unknown tag {%% %s %%}" % word)
                if child_top and word not in ("block", "set", "macro", "import", "from"):
                    self.error("{%% %s %%} outside a block in a template that extends another" % word)
                handler(fn, text[len(word):].strip())
        return None

    def block_body(self, fn, word, ends, start=None):
        """Compile a nested body; an unclosed block is reported at its opening line."""
        start = start or self.line
        end = self.body(fn, ends)
        if end is None:
            self.line = start
            self.error("unclosed {%% %s %%}" % word)
        return end

    def output(self, fn, src):
        if not src.strip():
            self.error("empty {{ }}")
        if fn.flat and src.split() == ["super()"] and self.flat_block:
            self.inline_block(fn, self.flat_block, self.flat_k + 1)
            return
        code = fn.expr(src)
        j = "_j("
        if code.startswith(j) and code.endswith(")") and _balanced(code[len(j):-1]):
            fn.emit("yield from " + code[len(j):-1])
        elif code.startswith("_g(") and code.count("(") == 1:
            # {{ name.attr }}: lookup and escaping in one call.
            fn.uses["g"] -= 1
            fn.emit("yield %s(%s" % (fn.use("ea"), code[3:]))
        else:
            fn.emit("yield %s(%s)" % (fn.use("e"), code))
        fn.yields = True

    def stmt_if(self, fn, rest):
        start = self.line
        fn.emit("if %s:" % fn.expr(rest))
        while True:
            fn.up()
            fn.emit("pass")
            end = self.block_body(fn, "if", ("elif", "else", "endif"), start)
            fn.down()
            word = end.split(None, 1)[0]
            if word == "elif":
                fn.emit("elif %s:" % fn.expr(end[4:]))
            elif word == "else":
                fn.emit("else:")
            else:
                return

    def stmt_for(self, fn, rest):
        start = self.line
        rest = rest.replace("\n", " ").replace("\t", " ")
        i = _find_word(rest, "in")
        if i < 0:
            self.error("expected {% for name in expression %}")
        names = [t.strip() for t in rest[:i].split(",")]
        seq_src = rest[i + 2:]
        k = _find_top(seq_src, " if ")
        seq = fn.expr(seq_src if k < 0 else seq_src[:k])
        n = self.counter()
        fn.emit("pass")
        head = len(fn.lines) - 1
        indent = fn.indent
        loop = ["_l%d" % n, False]
        fn.loops.append(loop)
        fn.scopes.append({})
        targets = ", ".join(fn.bind(name, True) for name in names if name)
        if k >= 0:
            # {% for x in xs if cond %}: filtered first, so loop.index and length count the kept.
            seq = "[%s for %s in %s if %s]" % (targets, targets, seq, fn.expr(seq_src[k + 4:]))
        fn.up()
        fn.emit("_n%d = 0" % n)
        end = self.block_body(fn, "for", ("else", "endfor"))
        fn.down()
        fn.scopes.pop()
        fn.loops.pop()
        pad = "    " * indent
        if loop[1]:
            head_code = "%s%s = %s(%s)\n%sfor %s in %s.seq:" % (pad, loop[0], fn.use("L"), seq, pad, targets,
                                                               loop[0])
            fn.lines[head + 1] = pad + "    %s.index0 += 1" % loop[0]
        else:
            head_code = "%sfor %s in %s:" % (pad, targets, seq)
            fn.lines[head + 1] = pad + "    pass"
        if end.split(None, 1)[0] == "else":
            fn.lines[head] = "%s_n%d = 1\n%s" % (pad, n, head_code)
            fn.lines[head + 1] += "\n%s    _n%d = 0" % (pad, n)
            fn.emit("if _n%d:" % n)
            fn.up()
            fn.emit("pass")
            self.block_body(fn, "for", ("endfor",), start)
            fn.down()
        else:
            fn.lines[head] = head_code

    def stmt_set(self, fn, rest):
        i = _find_op(rest, "=")
        if i < 0:
            # {% set name %}...{% endset %}: the rendered body, as Markup.
            inner = self.capture(fn, "set", ("endset",))
            self.assign(fn, [rest.strip()], "%s(%s())" % (fn.use("j"), inner))
            return
        names = [t.strip() for t in rest[:i].split(",")]
        self.assign(fn, names, fn.expr("(%s)" % rest[i + 1:] if len(names) > 1 else rest[i + 1:]))

    def capture(self, fn, word, ends):
        """Compile a body into a nested generator function; return its name."""
        name = "_k%d" % self.counter()
        fn.emit("def %s():" % name)
        fn.up()
        yields = fn.yields
        fn.scopes.append({})
        self.block_body(fn, word, ends)
        fn.emit("return")
        fn.emit("yield")
        fn.scopes.pop()
        fn.down()
        fn.yields = yields
        return name

    def stmt_with(self, fn, rest):
        values = []
        for part in _split_top(rest):
            k = _find_op(part, "=")
            if k < 0:
                self.error("expected {% with name = expression, ... %}")
            values.append((part[:k].strip(), fn.expr(part[k + 1:])))
        fn.scopes.append({})
        for name, code in values:
            fn.emit("%s = %s" % (fn.bind(name, True), code))
        self.block_body(fn, "with", ("endwith",))
        fn.scopes.pop()

    def stmt_filter(self, fn, rest):
        inner = self.capture(fn, "filter", ("endfilter",))
        expr = _Expr(fn, "|" + rest)
        code = expr.filters("%s(%s())" % (fn.use("j"), inner))
        if not expr.at_end():
            expr.err("expected filters")
        fn.emit("yield %s(%s)" % (fn.use("e"), code))
        fn.yields = True

    def assign(self, fn, names, code):
        """Bind template variables to code, as {% set %} does."""
        local = len(fn.scopes) > 1
        targets = ", ".join(fn.bind(name, local) for name in names)
        fn.emit("%s = %s" % (targets, code))
        if fn.root and not local:
            # Top-level assignments are visible to blocks and included templates through the context.
            for name in names:
                fn.emit("_c[%r] = %s_" % (name, name))

    def stmt_import(self, fn, rest):
        k = _find_top(rest, " as ")
        if k < 0:
            self.error('expected {% import "name" as name %}')
        self.assign(fn, [rest[k + 4:].strip()], "%s(%s)" % (fn.use("imp"), fn.expr(rest[:k])))

    def stmt_from(self, fn, rest):
        k = _find_top(rest, " import ")
        if k < 0:
            self.error('expected {% from "name" import macro, ... %}')
        module = "_i%d" % self.counter()
        fn.emit("%s = %s(%s)" % (module, fn.use("imp"), fn.expr(rest[:k])))
        for part in _split_top(rest[k + 8:]):
            words = part.split()
            if len(words) not in (1, 3) or (len(words) == 3 and words[1] != "as"):
                self.error('expected {% from "name" import macro [as name], ... %}')
            self.assign(fn, [words[-1]], "%s(%s, %r)" % (fn.use("g"), module, words[0]))

    def stmt_include(self, fn, rest):
        name = fn.expr(rest)
        local = {}
        for scope in fn.scopes[1:] if fn.root else fn.scopes:
            local.update(scope)
        if local:
            ctx = "%s(_c, {%s})" % (fn.use("ctx"), ", ".join("%r: %s" % kv for kv in sorted(local.items())))
        else:
            ctx = "_c"
        fn.emit("yield from %s(%s, %s)" % (fn.use("inc"), name, ctx))
        fn.yields = True

    def stmt_extends(self, fn, rest):
        self.error("{% extends %} must be the first tag of the template")

    def stmt_block(self, fn, rest):
        name = rest.split()[0] if rest else ""
        if fn.flat:
            # This template's own body of the block is skipped; the most derived one is inlined.
            self.pos = self.ranges[self.flat_k][name][1] + 1
            self.inline_block(fn, name, 0)
            return
        if not name or not all(_is_name_char(c) for c in name) or name in self.blocks:
            self.error("bad or repeated block name %r" % name)
        self.blocks.append(name)
        inner = _Func(self, "def _b_%s(_c, _x, _b):" % name)
        self.funcs.append(inner)
        outer_block = self.block
        self.block = name
        end = self.block_body(inner, "block", ("endblock",))
        self.block = outer_block
        if end.split()[1:] not in ([], [name]):
            self.error("{%% endblock %%} closes block %r" % name)
        if not (self.parent is not None and fn is self.funcs[0]):
            fn.emit("yield from _b[%r](_c, _x, _b)" % name)
            fn.yields = True

    def stmt_macro(self, fn, rest):
        name = self.macro_name("macro " + rest)
        i = rest.find("(")
        j = rest.rfind(")")
        if i < 0 or j < i:
            self.error("expected {% macro name(params) %}")
        params = []
        defaults = []
        for p in _split_top(rest[i + 1:j]):
            k = _find_op(p, "=")
            pname = (p[:k] if k >= 0 else p).strip()
            if k >= 0:
                dfn = _Func(self, "")
                dfn.scopes = [{}]
                default = dfn.expr(p[k + 1:])
                if dfn.free or dfn.helpers:
                    self.error("macro parameter defaults must be literals")
                params.append("%s_=%s" % (pname, default))
            else:
                if defaults:
                    self.error("macro parameter %r without a default follows one with a default" % pname)
                params.append(pname + "_")
            if k >= 0:
                defaults.append(pname)
        inner = _Func(self, "def _m_%s(_c, _x%s):" % (name, "".join(", " + p for p in params)))
        for p in params:
            inner.bind(p.split("=")[0][:-1], False)
        self.funcs.append(inner)
        outer_block = self.block
        self.block = None
        self.block_body(inner, "macro", ("endmacro",))
        self.block = outer_block


def _lit(s):
    """A Python str literal for s, written the same by CPython and MicroPython (whose repr()
    differ on non-ASCII characters, which are kept as they are here)."""
    s = s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    s = s.replace("\t", "\\t")
    if any(c < " " or c == "\x7f" for c in s):
        s = "".join("\\x%02x" % ord(c) if c < " " or c == "\x7f" else c for c in s)
    return "'" + s + "'"


def _block_ranges(tokens):
    """{block name: (index of its first body token, index of its endblock)}."""
    ranges = {}
    stack = []
    for i, (kind, text, _line) in enumerate(tokens):
        if kind == "stmt":
            word = text.split(None, 1)[0]
            if word == "block":
                stack.append((text.split()[1], i + 1))
            elif word == "endblock" and stack:
                name, start = stack.pop()
                ranges[name] = (start, i)
    return ranges


def _top_level_sets(tokens):
    depth = 0
    for tok in tokens:
        if tok[0] == "stmt":
            word = tok[1].split(None, 1)[0]
            if word in ("block", "macro"):
                depth += 1
            elif word in ("endblock", "endmacro"):
                depth -= 1
            elif word in ("set", "import", "from") and depth == 0:
                yield tok


def _balanced(code):
    """True when `code` is one parenthesised call, i.e. its parentheses never close early."""
    depth = 0
    quote = None
    for c in code:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _split_top(src):
    """Split on commas outside brackets and quotes."""
    out = []
    depth = 0
    quote = None
    start = 0
    for i, c in enumerate(src):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(src[start:i])
            start = i + 1
    if src[start:].strip():
        out.append(src[start:])
    return out


def _find_top(src, word):
    """Index of `word` outside quotes and brackets, or -1."""
    depth = 0
    quote = None
    for i, c in enumerate(src):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and src.startswith(word, i):
            return i
    return -1


def _find_word(src, word):
    i = src.find(" %s " % word)
    return i + 1 if i >= 0 else -1


def _find_op(src, op):
    """Index of a lone `=` (not part of ==, !=, <=, >=) outside quotes."""
    quote = None
    for i, c in enumerate(src):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == op and src[i + 1:i + 2] != "=" and (i == 0 or src[i - 1] not in "=!<>"):
            return i
    return -1


def compile_source(source, name="<template>", loader=None):
    """Compile template source to the Python source of a module (see the top of this file).

    loader(name) -> (source, display name) or None lets a template that extends another be
    compiled into one function with its parents (faster: no `yield from` per chunk).
    Raises TemplateSyntaxError("name:line: what was expected")."""
    return _Compiler(source, name, loader).compile()


