# Template compiler: Jinja-like template source -> Python source of a module whose `render`
# function returns a generator of str chunks. Runs on CPython (tools/compile_templates.py, at
# firmware build time) and on MicroPython (templates on the filesystem, compiled once), so it
# uses only str methods, lists and dicts: no `re`, no f-strings.
#
# Three stages:
#   _lex       source -> items: ("text", line, str), ("var", line, tokens), ("stmt", line, tokens)
#              where every tag's content goes through one tokenizer (_tag_tokens). A token is a
#              str: a name, a number, an operator, or a string literal still in its quotes.
#   _Parser    items -> a tree of tuples, one node per text, {{ }} or statement (see _Parser)
#   _Generator tree -> Python source; expressions stay token lists until _Expr translates them.
#
# The generated module (run by kiln.template's runtime `_x`):
#   PARENT = "base.html"                  only when the template extends another
#   MACROS = ("name", ...)                only when it defines macros ({% import %} reads it)
#   def render(_c, _x, _b=None)           _c: context dict; _b: blocks, most derived first
#   def _b_<block>(_c, _x, _b)            one generator per {% block %}
#   def _m_<macro>(_c, _x, params...)     one generator per {% macro %}
#   def _flat(_c, _x)                     the whole inheritance chain in one generator, when
#                                         compiled with a loader (see _Generator.flatten)
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
_OPEN = ("(", "[", "{")
_CLOSE = (")", "]", "}")
_ADD = ("+", "-")
_MUL = ("*", "/", "//", "%")
_COMPARE = ("==", "!=", "<", "<=", ">", ">=", "in")
# Operators written with spaces around them in error messages.
_SPACED = ("**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=")
# Filters compiled to a helper instead of a filter lookup.
_INLINE_FILTERS = {"e": "E", "escape": "E", "safe": "S"}
# loop.<attr> inside its own for, computed in place (L is the loop object's variable); `loop`
# used as a value is a kiln.template.Loop, whose properties compute the same.
_LOOP_ATTRS = {"index": "(L.index0 + 1)", "index0": "L.index0", "first": "(L.index0 == 0)",
               "last": "(L.index0 == L.length - 1)", "length": "L.length",
               "revindex": "(L.length - L.index0)", "revindex0": "(L.length - L.index0 - 1)",
               "cycle": "L.cycle"}
# What a template that extends another may hold outside its blocks.
_CHILD_TOP_TAGS = ("block", "set", "macro", "import", "from")


def _error(name, line, msg):
    raise TemplateSyntaxError("%s:%d: %s" % (name, line, msg))


def _is_name_start(c):
    return c == "_" or c.isalpha()


def _is_name_char(c):
    return c == "_" or c.isalpha() or c.isdigit()


def _is_name(s):
    return s != "" and _is_name_start(s[0]) and all(_is_name_char(c) for c in s)


# --- lexer ---------------------------------------------------------------------------------


def _kind(tok):
    """"str", "num", "name" or "op": a token's kind, told by its first character."""
    c = tok[0]
    if c == "'" or c == '"':
        return "str"
    if c.isdigit():
        return "num"
    if _is_name_start(c):
        return "name"
    return "op"


def _unquote(tok):
    """The value of a string literal token."""
    if "\\" not in tok:
        return tok[1:-1]
    out = []
    i = 1
    while i < len(tok) - 1:
        c = tok[i]
        if c == "\\":
            i += 1
            c = tok[i]
            k = "ntr".find(c)
            if k >= 0:
                c = "\n\t\r"[k]
        out.append(c)
        i += 1
    return "".join(out)


def _token_end(src, i):
    """Index just past the name, number, string literal or operator that starts at src[i];
    -1 for a string literal that is not closed."""
    n = len(src)
    c = src[i]
    j = i + 1
    if c == "'" or c == '"':
        while j < n and src[j] != c:
            j += 2 if src[j] == "\\" else 1
        return j + 1 if j < n else -1
    if _is_name_start(c):
        # _is_name_char inlined: names are most of a tag's characters (callgrind: -1.5%, as above).
        while j < n:
            c = src[j]
            if not (c.isalpha() or c.isdigit() or c == "_"):
                break
            j += 1
        return j
    if not c.isdigit():
        return j + 1 if src[i:i + 2] in _OPS2 else j
    # A number: digits (and _), then maybe a fraction, then maybe an exponent.
    digits = "0123456789_"
    while j < n and src[j] in digits:
        j += 1
    if src[j:j + 1] == "." and src[j + 1:j + 2].isdigit():
        j += 1
        while j < n and src[j] in digits:
            j += 1
    if src[j:j + 1] in ("e", "E"):
        k = j + 2 if src[j + 1:j + 2] in ("+", "-") else j + 1
        if src[k:k + 1].isdigit():
            j = k
            while j < n and src[j] in digits:
                j += 1
    return j


def _tag_tokens(src, i, close, fail):
    """Tokens of a tag's content from src[i] up to `close` (outside string literals).
    Returns (tokens, index past close, whether close was preceded by "-"), or None when the
    tag or a string in it is not closed."""
    toks = []
    n = len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif src.startswith(close, i):
            return toks, i + 2, False
        elif c == "-" and src.startswith(close, i + 1):
            return toks, i + 3, True
        else:
            j = _token_end(src, i)
            if j < 0:
                return None
            if j == i + 1 and c not in _OPS1 and not _is_name_char(c):
                fail("unexpected character %r" % c)
            toks.append(src[i:j].replace("_", "") if c.isdigit() else src[i:j])
            i = j
    return None


def _next_tag(src, pos):
    """Index of the next "{{", "{%" or "{#" from pos, or len(src)."""
    i = src.find("{", pos)
    while i >= 0 and src[i + 1:i + 2] not in ("{", "%", "#"):
        i = src.find("{", i + 1)
    return len(src) if i < 0 else i


def _endraw(src, pos):
    """(start, end) of the first {% endraw %} tag from pos, or None."""
    i = src.find("{%", pos)
    while i >= 0:
        j = src.find("%}", i + 2)
        if j < 0:
            return None
        if src[i + 2:j].strip("- \t\r\n") == "endraw":
            return i, j + 2
        i = src.find("{%", i + 2)
    return None


def _lex(src, name):
    """Split template source into text, {{ }} and {% %} items (comments and raw resolved)."""
    if src.endswith("\n"):
        src = src[:-1]
    items = []
    n = len(src)
    pos = 0
    line = 1
    trim = False

    def fail(msg):
        _error(name, line, msg)

    while True:
        i = _next_tag(src, pos)
        text = src[pos:i]
        if trim:
            text = text.lstrip()
        if src[i + 2:i + 3] == "-":
            text = text.rstrip()
        if text:
            items.append(("text", line, text))
        line += src.count("\n", pos, i)
        if i >= n:
            return items
        opener = src[i + 1]
        if opener == "#":
            j = src.find("#}", i + 2)
            if j < 0:
                fail("unclosed {#")
            trim = src[i + 2:j].endswith("-")
            pos = j + 2
        else:
            start = i + 3 if src[i + 2:i + 3] == "-" else i + 2
            tag = _tag_tokens(src, start, "}}" if opener == "{" else "%}", fail)
            if tag is None:
                fail("unclosed " + src[i:i + 2])
            toks, pos, trim = tag
            if opener == "{":
                items.append(("var", line, toks))
            elif not toks:
                fail("empty {% %}")
            elif toks == ["raw"]:
                end = _endraw(src, pos)
                if end is None:
                    fail("unclosed {% raw %}")
                text = src[pos:end[0]]
                if trim:
                    text = text.lstrip()
                if src[end[0] + 2] == "-":
                    text = text.rstrip()
                if text:
                    items.append(("text", line + src.count("\n", i, pos), text))
                pos, trim = end[1], src[end[1] - 3] == "-"
            else:
                items.append(("stmt", line, toks))
        line += src.count("\n", i, pos)


# --- parser --------------------------------------------------------------------------------


def _find_top(toks, word):
    """Index of token `word` outside brackets, or -1."""
    depth = 0
    for i, tok in enumerate(toks):
        if tok in _OPEN:
            depth += 1
        elif tok in _CLOSE:
            depth -= 1
        elif depth == 0 and tok == word:
            return i
    return -1


def _split_top(toks):
    """Split tokens on commas outside brackets; a trailing comma adds no empty part."""
    parts = []
    while toks:
        k = _find_top(toks, ",")
        if k < 0:
            parts.append(toks)
            break
        parts.append(toks[:k])
        toks = toks[k + 1:]
    return parts


class _Parser:
    """The syntax tree of one template: `nodes`, plus `parent` (the name it extends or None),
    `blocks` ({name: block node}), `macros` (names, in order) and `last_line`.

    Nodes (bodies are lists of nodes; `toks` are expression tokens):
      ("text", line, str)                     ("var", line, toks)
      ("if", line, [(toks or None for else, line, body), ...])
      ("for", line, [target names], toks, filter toks or None, body, else body or None, else line)
      ("set", line, [names], toks)            ("setblock", line, name, body, endset line)
      ("with", line, [(name, toks), ...], body)
      ("filter", line, toks of the filters, body, endfilter line)
      ("include", line, toks)                 ("import", line, toks, name)
      ("from", line, toks, [(macro, name), ...])
      ("block", line, name, body, endblock line)
      ("macro", line, name, [(param, default toks or None), ...], body)
    A template that extends another keeps only blocks, sets, macros and imports at its top level."""

    def __init__(self, source, name):
        self.name = name
        self.items = _lex(source, name)
        self.last_line = self.items[-1][1] if self.items else 1
        self.pos = 0
        self.parent = None
        self.blocks = {}
        self.macros = []
        self.parse_extends()
        self.nodes = self.body((), self.parent is not None)[0]
        self.items = None

    def error(self, line, msg):
        _error(self.name, line, msg)

    def parse_extends(self):
        for i, (kind, line, value) in enumerate(self.items):
            if kind == "text" and not value.strip():
                continue
            if kind == "stmt" and value[0] == "extends":
                if len(value) != 2 or _kind(value[1]) != "str":
                    self.error(line, "{% extends %} takes a template name in quotes")
                self.parent = _unquote(value[1])
                self.pos = i + 1
            return

    def body(self, ends, child_top=False):
        """Nodes up to a statement whose keyword is in `ends`; returns (nodes, that statement's
        (tokens, line)), or (nodes, None) at the end of the template."""
        nodes = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            self.pos += 1
            kind, line, toks = item
            if kind != "stmt":
                if not child_top:
                    nodes.append(item)
                continue
            word = toks[0]
            if word in ends:
                return nodes, (toks, line)
            if word == "extends":
                self.error(line, "{% extends %} must be the first tag of the template")
            parse = getattr(self, "tag_" + word, None)
            if parse is None:
                if word.startswith("end") or word in ("else", "elif"):
                    self.error(line, "unexpected {%% %s %%}" % word)
                self.error(line, "unknown tag {%% %s %%}" % word)
            if child_top and word not in _CHILD_TOP_TAGS:
                self.error(line, "{%% %s %%} outside a block in a template that extends another" % word)
            nodes.append(parse(toks[1:], line))
        return nodes, None

    def block_body(self, word, ends, line):
        """body() of a statement opened at `line`, which must be closed."""
        nodes, end = self.body(ends)
        if end is None:
            self.error(line, "unclosed {%% %s %%}" % word)
        return nodes, end

    def tag_if(self, toks, line):
        branches = []
        cond, branch_line = toks, line
        ends = ("elif", "else", "endif")
        while True:
            body, (end, end_line) = self.block_body("if", ends, line)
            branches.append((cond, branch_line, body))
            if end[0] == "endif":
                return ("if", line, branches)
            cond, branch_line = (end[1:] if end[0] == "elif" else None), end_line
            if cond is None:
                ends = ("endif",)

    def tag_for(self, toks, line):
        k = _find_top(toks, "in")
        names = ["".join(part) for part in _split_top(toks[:k]) if part] if k > 0 else []
        if not names:
            self.error(line, "expected {% for name in expression %}")
        seq = toks[k + 1:]
        cond = None
        i = _find_top(seq, "if")
        if i >= 0:
            seq, cond = seq[:i], seq[i + 1:]
        body, end = self.block_body("for", ("else", "endfor"), line)
        other = None
        if end[0][0] == "else":
            other = self.block_body("for", ("endfor",), line)[0]
        return ("for", line, names, seq, cond, body, other, end[1])

    def tag_set(self, toks, line):
        k = _find_top(toks, "=")
        if k == 0:
            self.error(line, "expected {% set name = expression %}")
        if k > 0:
            return ("set", line, ["".join(part) for part in _split_top(toks[:k])], toks[k + 1:])
        body, end = self.block_body("set", ("endset",), line)
        return ("setblock", line, "".join(toks), body, end[1])

    def tag_with(self, toks, line):
        values = []
        for part in _split_top(toks):
            k = _find_top(part, "=")
            if k < 0:
                self.error(line, "expected {% with name = expression, ... %}")
            values.append(("".join(part[:k]), part[k + 1:]))
        return ("with", line, values, self.block_body("with", ("endwith",), line)[0])

    def tag_filter(self, toks, line):
        body, end = self.block_body("filter", ("endfilter",), line)
        return ("filter", line, toks, body, end[1])

    def tag_include(self, toks, line):
        return ("include", line, toks)

    def tag_import(self, toks, line):
        k = _find_top(toks, "as")
        if k < 0:
            self.error(line, 'expected {% import "name" as name %}')
        return ("import", line, toks[:k], "".join(toks[k + 1:]))

    def tag_from(self, toks, line):
        k = _find_top(toks, "import")
        if k < 0:
            self.error(line, 'expected {% from "name" import macro, ... %}')
        names = []
        for part in _split_top(toks[k + 1:]):
            if len(part) not in (1, 3) or (len(part) == 3 and part[1] != "as"):
                self.error(line, 'expected {% from "name" import macro [as name], ... %}')
            names.append((part[0], part[-1]))
        return ("from", line, toks[:k], names)

    def tag_block(self, toks, line):
        name = "".join(toks)
        if not _is_name(name) or name in self.blocks:
            self.error(line, "bad or repeated block name %r" % name)
        self.blocks[name] = None  # taken: a block of the same name inside it is a repeat
        body, end = self.block_body("block", ("endblock",), line)
        if end[0][1:] not in ([], [name]):
            self.error(end[1], "{%% endblock %%} closes block %r" % name)
        node = ("block", line, name, body, end[1])
        self.blocks[name] = node
        return node

    def tag_macro(self, toks, line):
        if len(toks) < 3 or _kind(toks[0]) != "name" or toks[1] != "(" or toks[-1] != ")":
            self.error(line, "expected {% macro name(params) %}")
        params = []
        for part in _split_top(toks[2:-1]):
            k = _find_top(part, "=")
            params.append(("".join(part), None) if k < 0 else ("".join(part[:k]), part[k + 1:]))
        if toks[0] not in self.macros:
            self.macros.append(toks[0])
        return ("macro", line, toks[0], params, self.block_body("macro", ("endmacro",), line)[0])


# --- code generation -------------------------------------------------------------------------


def _untokenize(toks):
    """Tokens as source text again (spacing normalised), for error messages."""
    out = []
    prev = ","
    for tok in toks:
        if (_kind(prev) != "op" and _kind(tok) != "op") or prev in _SPACED or tok in _SPACED or prev == ",":
            out.append(" ")
        out.append(tok)
        prev = tok
    return "".join(out)[1:]


class _Expr:
    """Recursive-descent translation of one expression's tokens into a Python expression."""

    def __init__(self, fn, toks):
        self.fn = fn
        self.toks = toks
        self.pos = 0
        self.special = None

    def err(self, msg):
        src = _untokenize(self.toks)
        if src:
            msg += " in %r" % (src if len(src) < 60 else src[:56] + "...")
        self.fn.c.error(msg)

    def peek(self, value=None, kind=None, ahead=0):
        """Whether the token `ahead` places on is `value` (or of `kind`)."""
        if self.pos + ahead >= len(self.toks):
            return False
        tok = self.toks[self.pos + ahead]
        return tok == value if kind is None else _kind(tok) == kind

    def take(self, value=None, kind=None):
        if not self.peek(value, kind):
            if self.at_end():
                self.err("expected %s at the end" % (value or kind))
            self.err("expected %s before %r" % (value or kind, self.toks[self.pos]))
        self.pos += 1
        return self.toks[self.pos - 1]

    def accept(self, value):
        """Take the next token if it is `value`; return whether it was."""
        # Not self.peek(value): one call less on every operand's path (callgrind: -1.8% of the
        # instructions to compile the blog's templates in the firmware).
        if self.pos < len(self.toks) and self.toks[self.pos] == value:
            self.pos += 1
            return True
        return False

    def accept_any(self, values):
        """The next token, taken, if it is one of `values`; else None."""
        if self.pos < len(self.toks) and self.toks[self.pos] in values:
            self.pos += 1
            return self.toks[self.pos - 1]
        return None

    def at_end(self):
        return self.pos >= len(self.toks)

    def whole(self):
        code = self.expr()
        if not self.at_end():
            self.err("unexpected %r" % self.toks[self.pos])
        return code

    def expr(self):
        code = self.or_()
        if self.accept("if"):
            cond = self.or_()
            other = "_x.undef"
            if self.accept("else"):
                other = self.expr()
            code = "(%s if %s else %s)" % (code, cond, other)
        return code

    def or_(self):
        code = self.and_()
        while self.accept("or"):
            code = "(%s or %s)" % (code, self.and_())
        return code

    def and_(self):
        code = self.not_()
        while self.accept("and"):
            code = "(%s and %s)" % (code, self.not_())
        return code

    def not_(self):
        if self.accept("not"):
            return "(not %s)" % self.not_()
        return self.compare()

    def compare(self):
        code = self.math1()
        parts = []
        while True:
            op = self.accept_any(_COMPARE)
            if op is None and self.peek("not") and self.peek("in", ahead=1):
                self.pos += 2
                op = "not in"
            if op is None:
                break
            parts.append(" %s %s" % (op, self.math1()))
        return "(%s%s)" % (code, "".join(parts)) if parts else code

    def math1(self):
        code = self.concat()
        op = self.accept_any(_ADD)
        while op:
            code = "(%s %s %s)" % (code, op, self.concat())
            op = self.accept_any(_ADD)
        return code

    def concat(self):
        code = self.math2()
        if not self.peek("~"):
            return code
        parts = [code]
        while self.accept("~"):
            parts.append(self.math2())
        return "%s(%s)" % (self.fn.use("cat"), ", ".join(parts))

    def math2(self):
        code = self.power()
        op = self.accept_any(_MUL)
        while op:
            code = "(%s %s %s)" % (code, op, self.power())
            op = self.accept_any(_MUL)
        return code

    def power(self):
        code = self.unary()
        while self.accept("**"):
            code = "(%s ** %s)" % (code, self.unary())
        return code

    def unary(self, with_filters=True):
        op = self.accept_any(_ADD)
        if op:
            code = "(%s%s)" % (op, self.unary(False))
        else:
            code = self.postfix(self.primary())
        return self.filters(code) if with_filters else code

    def args(self, close, suffix=""):
        """Call arguments up to `close`, as Python source; keyword names get `suffix`."""
        out = []
        while not self.peek(close):
            if self.peek(kind="name") and self.peek("=", ahead=1):
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
        tok = self.toks[self.pos]
        self.pos += 1
        kind = _kind(tok)
        if kind == "num":
            return tok
        if kind == "str":
            value = _unquote(tok)
            while self.peek(kind="str"):
                value += _unquote(self.take(kind="str"))
            return _lit(value)
        if kind == "name":
            return self.name(tok)
        if tok == "(":
            return self.parenthesised()
        if tok == "[" or tok == "{":
            close = "]" if tok == "[" else "}"
            items = []
            while not self.accept(close):
                item = self.expr()
                if close == "}":
                    self.take(":")
                    item += ": " + self.expr()
                items.append(item)
                if not self.peek(close):
                    self.take(",")
            return tok + ", ".join(items) + close
        self.err("unexpected %r" % tok)

    def name(self, name):
        if name in _CONST:
            return _CONST[name]
        if name in _KEYWORDS:
            self.err("unexpected %r" % name)
        if self.peek("("):
            special = self.fn.call(name, self)
            if special is not None:
                self.special = special
                return special
        return self.fn.name(name)

    def parenthesised(self):
        if self.accept(")"):
            return "()"
        code = self.expr()
        if self.peek(","):
            items = [code]
            while self.accept(","):
                if self.peek(")"):
                    break
                items.append(self.expr())
            code = "(%s,)" % ", ".join(items)
        self.take(")")
        return code

    def postfix(self, code):
        while True:
            if self.accept("."):
                if self.peek(kind="num"):
                    code = "%s(%s, %s)" % (self.fn.use("i"), code, self.take(kind="num"))
                elif self.fn.loops and code in [loop[0] for loop in self.fn.loops]:
                    attr = self.take(kind="name")
                    if attr not in _LOOP_ATTRS:
                        self.err("loop has no attribute %r" % attr)
                    code = _LOOP_ATTRS[attr].replace("L", code)
                else:
                    code = "%s(%s, %r)" % (self.fn.use("g"), code, self.take(kind="name"))
            elif self.accept("["):
                code = self.subscript(code)
            elif self.accept("("):
                code = "%s(%s)" % (code, self.args(")"))
            else:
                return code

    def subscript(self, code):
        parts = [""]
        while not self.accept("]"):
            if self.accept(":"):
                parts.append("")
            elif parts[-1]:
                self.err("expected ] or :")
            else:
                parts[-1] = self.expr()
        if len(parts) == 1:
            return "%s(%s, %s)" % (self.fn.use("i"), code, parts[0])
        return "%s[%s]" % (code, ":".join(parts))

    def filters(self, code):
        """`|filter(args)` and `is [not] test args` after an operand."""
        while True:
            if self.accept("|"):
                name = self.take(kind="name")
                args = self.args(")") if self.accept("(") else ""
                if name in _INLINE_FILTERS and not args:
                    code = "%s(%s)" % (self.fn.use(_INLINE_FILTERS[name]), code)
                else:
                    code = "%s(%s%s)" % (self.fn.filter(name), code, ", " + args if args else "")
            elif self.accept("is"):
                negate = self.accept("not")
                name = self.take(kind="name")
                if name in _CONST:
                    name = _CONST[name].lower()
                args = ""
                if self.accept("("):
                    args = ", " + self.args(")")
                elif self.peek(kind="num") or self.peek(kind="str"):
                    args = ", " + self.primary()
                code = "(%s%s(%s%s))" % ("not " if negate else "", self.fn.test(name), code, args)
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

    def expr(self, toks):
        return _Expr(self, toks).whole()

    def bind(self, name, unique):
        """A template variable assigned here (set, for): its Python name in the current scope."""
        if not _is_name(name):
            self.c.error("%r is not a valid variable name" % name)
        py = name + ("_%d" % self.c.counter() if unique else "_")
        self.scopes[-1][name] = py
        return py

    def source(self, out):
        """Append the function's lines, a blank line after them, to out."""
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
        out.append(self.header)
        out.extend(["    _%s = _x.%s" % (h, h) for h in self.helpers if self.uses[h]])
        # In order of first use (MicroPython's dicts do not keep insertion order).
        for name, (py, where) in sorted(self.filters.items(), key=lambda kv: int(kv[1][0][3:])):
            out.append("    %s = _flt(%r, %s)" % (py, name, _lit(where)))
        for name, (py, where) in sorted(self.tests.items(), key=lambda kv: int(kv[1][0][3:])):
            out.append("    %s = _tst(%r, %s)" % (py, name, _lit(where)))
        for name, (_n, where) in sorted(self.free.items(), key=lambda kv: kv[1][0]):
            out.append("    %s_ = _v(_c, %r, %s)" % (name, name, _lit(where)))
        out.extend(self.lines)
        out.append("")


class _Generator:
    """Python source for one parsed template (and, with a loader, its inheritance chain)."""

    def __init__(self, tree, loader=None):
        self.tree = tree
        self.name = tree.name
        self.loader = loader
        self.line = 1
        self.parent = tree.parent
        self.macros = tree.macros
        self.block = None
        self.blocks = []
        self.funcs = []
        self.n = 0
        self.chain = None
        self.flat_k = 0
        self.flat_block = None

    def error(self, msg):
        _error(self.name, self.line, msg)

    def where(self):
        return "%s:%d" % (self.name, self.line)

    def counter(self):
        self.n += 1
        return self.n

    def child_render(self, fn):
        return self.parent is not None and fn is self.funcs[0]

    def compile(self):
        root = _Func(self, "def render(_c, _x, _b=None):", True)
        self.funcs.append(root)
        self.body(root, self.tree.nodes)
        if self.parent is not None:
            self.line = self.tree.last_line
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
        out = ["# Compiled by Kiln from %s: do not edit." % self.tree.name]
        # The tree's many small objects go before the output's large ones are made: room to
        # join them in on a fragmented device heap.
        self.tree = self.chain = None
        if self.parent is not None:
            out.append("PARENT = " + _lit(self.parent))
        if self.macros:
            out.append("MACROS = %r" % (tuple(self.macros),))
        # One join for the whole module, no copy of it per function; each function's line list
        # goes as soon as out holds its lines.
        for fn in self.funcs:
            fn.source(out)
            fn.lines = None
        return "\n".join(out)

    def body(self, fn, nodes):
        for node in nodes:
            self.line = node[1]
            if node[0] == "text":
                fn.text(node[2])
            else:
                getattr(self, "gen_" + node[0])(fn, node)

    def gen_var(self, fn, node):
        toks = node[2]
        if not toks:
            self.error("empty {{ }}")
        if fn.flat and self.flat_block and toks == ["super", "(", ")"]:
            self.inline_block(fn, self.flat_block, self.flat_k + 1)
            return
        expr = _Expr(fn, toks)
        code = expr.whole()
        if code == expr.special:
            # {{ macro(...) }} or {{ super() }} alone: its chunks, not their join.
            fn.emit("yield from " + code[3:-1])
        elif code.startswith("_g(") and code.count("(") == 1:
            # {{ name.attr }}: lookup and escaping in one call.
            fn.uses["g"] -= 1
            fn.emit("yield %s(%s" % (fn.use("ea"), code[3:]))
        else:
            fn.emit("yield %s(%s)" % (fn.use("e"), code))
        fn.yields = True

    def gen_if(self, fn, node):
        word = "if"
        for cond, line, body in node[2]:
            self.line = line
            if cond is None:
                fn.emit("else:")
            else:
                fn.emit("%s %s:" % (word, fn.expr(cond)))
            word = "elif"
            fn.up()
            fn.emit("pass")
            self.body(fn, body)
            fn.down()

    def gen_for(self, fn, node):
        _, line, names, seq, cond, body, other, else_line = node
        seq = fn.expr(seq)
        n = self.counter()
        fn.emit("pass")
        head = len(fn.lines) - 1
        indent = fn.indent
        loop = ["_l%d" % n, False]
        fn.loops.append(loop)
        fn.scopes.append({})
        targets = ", ".join(fn.bind(name, True) for name in names)
        if cond is not None:
            # {% for x in xs if cond %}: filtered first, so loop.index and length count the kept.
            seq = "[%s for %s in %s if %s]" % (targets, targets, seq, fn.expr(cond))
        fn.up()
        fn.emit("_n%d = 0" % n)
        self.body(fn, body)
        self.line = else_line
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
        if other is None:
            fn.lines[head] = head_code
            return
        fn.lines[head] = "%s_n%d = 1\n%s" % (pad, n, head_code)
        fn.lines[head + 1] += "\n%s    _n%d = 0" % (pad, n)
        fn.emit("if _n%d:" % n)
        fn.up()
        fn.emit("pass")
        self.body(fn, other)
        fn.down()

    def gen_set(self, fn, node):
        names, value = node[2], node[3]
        self.assign(fn, names, fn.expr(["("] + value + [")"] if len(names) > 1 else value))

    def gen_setblock(self, fn, node):
        # {% set name %}...{% endset %}: the rendered body, as Markup.
        inner = self.capture(fn, node[3], node[4])
        self.assign(fn, [node[2]], "%s(%s())" % (fn.use("j"), inner))

    def capture(self, fn, body, end_line):
        """Compile a body into a nested generator function; return its name."""
        name = "_k%d" % self.counter()
        fn.emit("def %s():" % name)
        fn.up()
        yields = fn.yields
        fn.scopes.append({})
        self.body(fn, body)
        self.line = end_line
        fn.emit("return")
        fn.emit("yield")
        fn.scopes.pop()
        fn.down()
        fn.yields = yields
        return name

    def gen_with(self, fn, node):
        values = [(name, fn.expr(toks)) for name, toks in node[2]]
        fn.scopes.append({})
        for name, code in values:
            fn.emit("%s = %s" % (fn.bind(name, True), code))
        self.body(fn, node[3])
        fn.scopes.pop()

    def gen_filter(self, fn, node):
        inner = self.capture(fn, node[3], node[4])
        expr = _Expr(fn, ["|"] + node[2])
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

    def gen_import(self, fn, node):
        self.assign(fn, [node[3]], "%s(%s)" % (fn.use("imp"), fn.expr(node[2])))

    def gen_from(self, fn, node):
        module = "_i%d" % self.counter()
        fn.emit("%s = %s(%s)" % (module, fn.use("imp"), fn.expr(node[2])))
        for macro, name in node[3]:
            self.assign(fn, [name], "%s(%s, %r)" % (fn.use("g"), module, macro))

    def gen_include(self, fn, node):
        name = fn.expr(node[2])
        local = {}
        for scope in fn.scopes[1:] if fn.root else fn.scopes:
            local.update(scope)
        if local:
            ctx = "%s(_c, {%s})" % (fn.use("ctx"), ", ".join("%r: %s" % kv for kv in sorted(local.items())))
        else:
            ctx = "_c"
        fn.emit("yield from %s(%s, %s)" % (fn.use("inc"), name, ctx))
        fn.yields = True

    def gen_block(self, fn, node):
        name = node[2]
        if fn.flat:
            # This template's own body of the block is skipped; the most derived one is inlined.
            self.inline_block(fn, name, 0)
            return
        self.blocks.append(name)
        inner = _Func(self, "def _b_%s(_c, _x, _b):" % name)
        self.funcs.append(inner)
        outer_block = self.block
        self.block = name
        self.body(inner, node[3])
        self.line = node[4]
        self.block = outer_block
        if not self.child_render(fn):
            fn.emit("yield from _b[%r](_c, _x, _b)" % name)
            fn.yields = True

    def gen_macro(self, fn, node):
        params = []
        after_default = False
        for name, default in node[3]:
            if default is None:
                if after_default:
                    self.error("macro parameter %r without a default follows one with a default" % name)
                params.append(name + "_")
                continue
            dfn = _Func(self, "")
            code = dfn.expr(default)
            if dfn.free or dfn.helpers:
                self.error("macro parameter defaults must be literals")
            params.append("%s_=%s" % (name, code))
            after_default = True
        inner = _Func(self, "def _m_%s(_c, _x%s):" % (node[2], "".join(", " + p for p in params)))
        for name, _default in node[3]:
            inner.bind(name, False)
        self.funcs.append(inner)
        outer_block = self.block
        self.block = None
        self.body(inner, node[4])
        self.block = outer_block

    # --- one function for a whole inheritance chain (when the compiler can read the parents) ---
    # render() of a template that extends another normally registers its blocks and delegates
    # to the parent's render(), so every chunk of a block passes through `yield from`. With a
    # loader (the build-time tool has one), the chain is also compiled into `_flat`: the root
    # template's code with the most derived version of each block inlined; render() uses it
    # unless a template compiled at run time extends this one. A chain whose parents define
    # macros, or that uses super() inside an expression, keeps the block functions only.

    def flatten(self):
        chain = [self.tree]
        while chain[-1].parent is not None:
            found = self.loader(chain[-1].parent)
            if found is None:
                return None
            chain.append(_Parser(found[0], found[1]))
            if chain[-1].macros or len(chain) > 17:
                return None
        self.chain = chain
        self.flat_block = None
        fn = _Func(self, "def _flat(_c, _x):", True)
        fn.flat = True
        saved = self.name, self.line, self.macros, self.parent
        try:
            self.parent = None
            for k in range(len(chain) - 1):
                # Top-level {% set %} of the extending templates, most derived first.
                self.use_chain(k)
                self.body(fn, [node for node in chain[k].nodes if node[0] in ("set", "setblock", "import", "from")])
            self.use_chain(len(chain) - 1)
            self.body(fn, chain[-1].nodes)
        finally:
            self.name, self.line, self.macros, self.parent = saved
        return fn

    def use_chain(self, k):
        self.flat_k = k
        self.name = self.chain[k].name
        self.macros = self.tree.macros if k == 0 else []

    def inline_block(self, fn, name, start):
        """Compile the most derived body of block `name` (from chain[start] up) into fn."""
        for k in range(start, len(self.chain)):
            if name in self.chain[k].blocks:
                break
        else:
            self.error("super(): no parent template defines block %r" % name)
        saved = self.name, self.line, self.macros, self.flat_k, self.flat_block
        scopes, loops = fn.scopes, fn.loops
        # Like a block function: the body sees the context, not the enclosing loops or sets.
        fn.scopes = [{}, {}]
        fn.loops = []
        self.use_chain(k)
        self.flat_block = name
        self.body(fn, self.chain[k].blocks[name][3])
        fn.scopes, fn.loops = scopes, loops
        self.name, self.line, self.macros, self.flat_k, self.flat_block = saved


def _lit(s):
    """A Python str literal for s, written the same by CPython and MicroPython (whose repr()
    differ on non-ASCII characters, which are kept as they are here)."""
    s = s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    s = s.replace("\t", "\\t")
    if any(c < " " or c == "\x7f" for c in s):
        s = "".join("\\x%02x" % ord(c) if c < " " or c == "\x7f" else c for c in s)
    return "'" + s + "'"


def compile_source(source, name="<template>", loader=None):
    """Compile template source to the Python source of a module (see the top of this file).

    loader(name) -> (source, display name) or None lets a template that extends another be
    compiled into one function with its parents (faster: no `yield from` per chunk).
    Raises TemplateSyntaxError("name:line: what was expected")."""
    return _Generator(_Parser(source, name), loader).compile()
