# Golden template cases, read by tests/test_template_golden.py (CPython, also checked against
# Jinja2 where `jinja` is true) and tests/device/test_template.py (inside the firmware).
# Each case: name, `source` (a string) or `file` (a template in this folder), ctx, expected out.


class User:
    def __init__(self, name, admin=False):
        self.name = name
        self.admin = admin


HOSTILE = "<script>alert('x')</script> & \"q\""
HOSTILE_OUT = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;q&#34;"

CASES = [
    # --- output, literals, operators -------------------------------------------------------
    ("text only", "plain <b>html</b>\n", {}, "plain <b>html</b>"),
    ("trailing newline kept but one", "a\n\n", {}, "a\n"),
    ("variable", "Hello {{ name }}!", {"name": "Kiln"}, "Hello Kiln!"),
    ("int float bool none", "{{ 3 }} {{ 2.5 }} {{ true }} {{ none }} {{ n }}", {"n": -7}, "3 2.5 True None -7"),
    ("string literals", "{{ 'a' \"b\" }}{{ 'it\\'s' }}", {}, "abit&#39;s"),
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ -x }}", {"x": 4},
     "7 9 3 1 8 -4"),
    ("concat tilde", "{{ 'a' ~ 1 ~ none ~ b }}", {"b": "<"}, "a1None&lt;"),
    ("concat with markup", "{{ '<' ~ m ~ 1 }} {{ ('<' ~ m)|length }}", {"m": "MARKUP:<b>"}, "&lt;<b>1 7"),
    ("comparisons", "{{ 1 < 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 2 in xs }} {{ 5 not in xs }}", {"xs": [1, 2]},
     "True True True True True"),
    ("boolean logic", "{{ a and b }} {{ a or b }} {{ not a }}", {"a": 1, "b": 0}, "0 1 False"),
    ("unary minus binds before filters", "{{ -x|string|length }} {{ -2 ** 2 }}", {"x": 3}, "2 4"),
    ("conditional expression", "{{ 'y' if ok else 'n' }}{{ 'z' if not ok }}", {"ok": True}, "y"),
    ("attribute and item", "{{ u.name }} {{ d.k }} {{ d['k'] }} {{ xs[1] }} {{ xs.0 }} {{ xs[1:] }}",
     {"u": User("ann"), "d": {"k": "v"}, "xs": [10, 20, 30]}, "ann v v 20 10 [20, 30]"),
    ("list dict tuple literals", "{{ [1, 'a'] }} {{ {'k': 1}['k'] }} {{ (1, 2)[1] }}", {}, "[1, &#39;a&#39;] 1 2"),
    ("calls", "{{ f(2, y=3) }} {{ range(3)|length }}",
     {"f": lambda x, y=0: x * y}, "6 3"),
    ("dict method", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"a": 1}}, "a=1;"),
    ("undefined renders empty", "[{{ missing }}][{{ missing.attr }}][{{ u.nope }}]", {"u": User("a")}, "[][][]",
     False),
    ("undefined is falsy", "{% if missing %}yes{% else %}no{% endif %}", {}, "no"),
    ("undefined is empty", "{{ missing|length }}{% for x in missing %}x{% endfor %}{{ 1 in missing }}", {},
     "0False"),
    ("is tests",
     "{{ x is defined }} {{ y is undefined }} {{ n is none }} {{ 3 is odd }} {{ 4 is even }} "
     "{{ 9 is divisibleby 3 }} {{ 'a' is string }} {{ 1 is number }} {{ d is mapping }} "
     "{{ xs is iterable }} {{ xs is sequence }} {{ 1 is not string }}",
     {"x": 1, "n": None, "d": {}, "xs": [1]},
     "True True True True True True True True True True True True"),
    # --- autoescaping ----------------------------------------------------------------------
    ("escape hostile", "{{ s }}", {"s": HOSTILE}, HOSTILE_OUT),
    ("escape in attribute", "<a title=\"{{ s }}\" href='{{ s }}'>", {"s": "\" onmouseover='x'"},
     "<a title=\"&#34; onmouseover=&#39;x&#39;\" href='&#34; onmouseover=&#39;x&#39;'>"),
    ("escape already escaped text again", "{{ s }}", {"s": "&amp;lt;"}, "&amp;amp;lt;"),
    ("escape non-str", "{{ xs }}", {"xs": ["<a>"]}, "[&#39;&lt;a&gt;&#39;]"),
    ("safe filter", "{{ s|safe }}", {"s": "<b>&</b>"}, "<b>&</b>"),
    ("e filter once", "{{ s|e }} {{ s|escape|e }}", {"s": "<&>"}, "&lt;&amp;&gt; &lt;&amp;&gt;"),
    ("markup passes", "{{ m }}", {"m": "MARKUP:<i>ok</i>"}, "<i>ok</i>"),
    ("literal text is not escaped", "<p class=\"x\">'&'</p>{{ '<' }}", {}, "<p class=\"x\">'&'</p>&lt;"),
    # --- filters ---------------------------------------------------------------------------
    ("default", "{{ x|default('d') }} {{ y|default('d') }} {{ ''|default('d', true) }} {{ 0|d('z', boolean=true) }}",
     {"y": "set"}, "d set d z"),
    ("length", "{{ xs|length }} {{ 'abc'|length }} {{ d|count }}", {"xs": [1, 2], "d": {"a": 1}}, "2 3 1"),
    ("upper lower", "{{ s|upper }} {{ s|lower }}", {"s": "MiXed <b>"}, "MIXED &lt;B&gt; mixed &lt;b&gt;"),
    ("title", "{{ s|title }}", {"s": "hello wORLD-wide (web) it's"}, "Hello World-Wide (Web) It&#39;s"),
    ("trim", "[{{ s|trim }}][{{ 'xxaxx'|trim('x') }}]", {"s": "  \t pad \n "}, "[pad][a]"),
    ("join", "{{ xs|join }} {{ xs|join(', ') }} {{ us|join('/', attribute='name') }}",
     {"xs": ["a", "<b>", 3], "us": [User("x"), User("y")]}, "a&lt;b&gt;3 a, &lt;b&gt;, 3 x/y"),
    ("join markup", "{{ [s|safe, '<i>']|join(' ') }}", {"s": "<b>"}, "<b> &lt;i&gt;"),
    ("int", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ 'ff'|int(base=16) }}", {},
     "42 4 0 7 3 255"),
    ("float", "{{ '1.5'|float }} {{ 'x'|float }} {{ 2|float }}", {}, "1.5 0.0 2.0"),
    ("round", "{{ 2.567|round(2) }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(0, 'floor') }} {{ 3.7|round }}", {},
     "2.57 3.0 2.0 4.0"),
    ("tojson", "<script>var d = {{ d|tojson }};</script>", {"d": {"b": [1, None, True], "a": "</script>&'"}},
     "<script>var d = {\"a\": \"\\u003c/script\\u003e\\u0026\\u0027\", \"b\": [1, null, true]};</script>"),
    ("urlencode", "{{ s|urlencode }} {{ d|urlencode }} {{ pairs|urlencode }}",
     {"s": "a b/c&d=é", "d": {"q": "x y", "n": 1}, "pairs": [("k", "&")]},
     "a%20b/c%26d%3D%C3%A9 q=x+y&amp;n=1 k=%26"),
    ("string list first last", "{{ 5|string ~ 'x' }} {{ 'ab'|list }} {{ xs|first }} {{ xs|last }} {{ []|first }}",
     {"xs": [1, 2, 3]}, "5x [&#39;a&#39;, &#39;b&#39;] 1 3 "),
    ("capitalize replace", "{{ 'hELLO wORLD'|capitalize }} {{ 'a-b-c'|replace('-', '+') }} "
     "{{ 'aaa'|replace('a', 'b', 2) }}", {}, "Hello world a+b+c bba"),
    ("filter chain", "{{ s|trim|upper|length }}", {"s": " ab "}, "2"),
    ("user filter", "{{ 3|double }} {{ 'a'|wrap('[', ']') }}", {}, "6 [a]"),
    ("filter on expression in parens", "{{ (a ~ b)|upper }}", {"a": "x", "b": "y"}, "XY"),
    # --- statements ------------------------------------------------------------------------
    ("if elif else", "{% for n in [0, 1, 2] %}{% if n == 0 %}zero{% elif n == 1 %}one{% else %}many{% endif %};"
     "{% endfor %}", {}, "zero;one;many;"),
    ("nested if", "{% if a %}{% if b %}ab{% else %}a{% endif %}{% endif %}", {"a": 1, "b": 0}, "a"),
    ("for loop vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
     "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}", {"xs": "ab"},
     "10TrueFalse221|21FalseTrue210|"),
    ("for else", "{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", {"xs": []}, "empty"),
    ("for else not taken", "{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", {"xs": [1]}, "1"),
    ("for over generator with loop", "{% for x in g %}{{ x }}{{ loop.last }} {% endfor %}", {"g": "GEN"},
     "0False 1True "),
    ("for unpacking", "{% for a, b in pairs %}{{ a }}{{ b }}{% endfor %}", {"pairs": [(1, 2), (3, 4)]}, "1234"),
    ("nested loops and loop", "{% for r in [1, 2] %}{% for c in 'ab' %}{{ loop.index }}{% endfor %}"
     "{{ loop.index }};{% endfor %}", {}, "121;122;"),
    ("loop variable scope", "{{ x }}{% for x in [1, 2] %}{{ x }}{% endfor %}{{ x }}", {"x": "o"}, "o12o"),
    ("loop cycle", "{% for x in 'abc' %}{{ loop.cycle('odd', 'even') }} {% endfor %}", {}, "odd even odd "),
    ("set", "{% set a = 2 %}{% set b, c = 3, 4 %}{{ a * b * c }}", {}, "24"),
    ("set in loop stays in loop", "{% set s = 'out' %}{% for x in [1] %}{% set s = 'in' %}{{ s }}{% endfor %}{{ s }}",
     {}, "inout"),
    ("comments", "a{# hidden {{ x }} {% if %} #}b", {}, "ab"),
    ("whitespace control", "<ul>\n  {%- for x in xs %}\n  <li>{{ x }}</li>\n  {%- endfor %}\n</ul>", {"xs": [1, 2]},
     "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>"),
    ("whitespace control both sides", "a  {{- 'b' -}}  c {#- x -#} d", {}, "abcd"),
    ("raw", "{% raw %}{{ not parsed }} {% if %}{% endraw %}", {}, "{{ not parsed }} {% if %}"),
    ("raw with whitespace control", "a {%- raw -%} {{ x }} {%- endraw -%} b", {}, "a{{ x }}b"),
    ("braces that are not tags", "{ a } {x} {{ '{{' }} {{ '}}' }} %}", {}, "{ a } {x} {{ }} %}"),
    ("macro", "{% macro hi(who, punct='!') %}Hi {{ who }}{{ punct }}{% endmacro %}"
     "{{ hi('<you>') }} {{ hi('me', punct='?') }} {{ hi('x')|upper }}", {}, "Hi &lt;you&gt;! Hi me? HI X!"),
    ("macro as a value", "{% macro m(a, b=1) %}{{ a }}{{ b }}{% endmacro %}{% set f = m %}{{ f(2, b='<') }}",
     {}, "2&lt;"),
    ("for over several lines", "{% for x\n   in xs %}{{ x }}{% endfor %}", {"xs": [1, 2]}, "12"),
    ("macro sees context", "{% macro m() %}{{ who }}{% endmacro %}{{ m() }}", {"who": "ctx"}, "ctx"),
    ("macro before definition", "{{ m() }}{% macro m() %}late{% endmacro %}", {}, "late", False),
    ("for with a filter", "{% for x in xs if x is odd %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% endfor %}",
     {"xs": [1, 2, 3, 4, 5]}, "1/3:1 2/3:3 3/3:5 "),
    ("with", "{% with a = 1, b = x %}{{ a }}{{ b }}{% endwith %}{{ a }}", {"x": "<"}, "1&lt;"),
    ("set block", "{% set s %}<b>{{ x }}</b>{% endset %}{{ s }}|{{ s|length }}", {"x": "<"}, "<b>&lt;</b>|11"),
    ("filter block", "{% filter upper|replace('A', '4') %}a<{{ x }}>{% endfilter %}", {"x": "<a>"},
     "4<&LT;4&GT;>"),
    ("replace on markup escapes its arguments", "{{ '<b>X</b>'|safe|replace('X', u) }}", {"u": "<i>"},
     "<b>&lt;i&gt;</b>"),
    # --- quotes and backslashes: every tag's content is read by one tokenizer --------------------
    ("escaped quote in with", "{% with a = \"x\\\", y\", b = 1 %}{{ a }}|{{ b }}{% endwith %}", {}, "x&#34;, y|1"),
    ("escaped quote before if in for", "{% for c in \"a\\\" if b\" if c != \" \" %}{{ c }}{% endfor %}", {},
     "a&#34;ifb"),
    ("escaped quote in macro default", "{% macro m(a=\"\\\", b\", c='\\\\') %}{{ a }}{{ c }}{% endmacro %}{{ m() }}",
     {}, "&#34;, b\\"),
    ("commas and equals in strings", "{% set a, b = \"=,\", 'it\\'s' %}{{ a }}|{{ b }}"
     "{% for x in [\"a,b\", 'in'] if x != \"in\" %};{{ x }}{% endfor %}", {}, "=,|it&#39;s;a,b"),
    ("tag ends inside strings", "{{ \"%}\" }}{{ '}}' ~ \"{%\" }}{% if '%}' %}y{% endif %}", {}, "%}}}{%y"),
    ("escapes in string literals", "{{ 'a\\'b' ~ \"c\\\"d\" ~ 'e\\\\f' }}|{{ 'x\\ny'|length }}", {},
     "a&#39;bc&#34;de\\f|3"),
    ("quotes in filter block arguments", "{% filter replace(\",\", ';') %}a,b{% endfilter %}", {}, "a;b"),
    # --- templates in this folder: include, extends, super, macros -----------------------------
    ("include in loop", {"file": "child.html"}, {"title": "T&", "items": ["<a>", "b"]},
     "<title>T&amp; - Site</title>\n<main><li>1:&lt;a&gt;</li><li>2:b</li></main>\n"
     "<footer>child footer</footer>"),
    ("extends three levels", {"file": "grandchild.html"}, {"title": "G", "items": []},
     "<title>[G - Site]</title>\n<main></main>\n<footer>child footer</footer>"),
    ("base alone", {"file": "base.html"}, {"footer": "<f>"},
     "<title>Site</title>\n<main>base main</main>\n<footer>&lt;f&gt;</footer>"),
    ("macros file", {"file": "macros.html"}, {"user": "\"ann\""},
     "\n<input type=\"text\" name=\"user\" value=\"&#34;ann&#34;\">\n"
     "<input type=\"password\" name=\"pw\" value=\"\">\n37"),
    ("import and from import", {"file": "form_page.html"}, {"who": "\"w\""},
     "<title>Site</title>\n<main><label>&lt;Name&gt;</label>"
     "<input type=\"text\" name=\"n\" value=\"&#34;w&#34;\"><input type=\"password\" name=\"p\" value=\"\">"
     "</main>\n<footer>(c) Kiln</footer>"),
    ("include by expression", "{% include name %}", {"name": "item.html", "item": "i", "n": 0}, "<li>0:i</li>"),
]

# Filters registered by both sides before rendering the "user filter" case.
USER_FILTERS = {
    "double": lambda v: v * 2,
    "wrap": lambda v, a, b: a + str(v) + b,
}


def context(ctx, markup, gen):
    """The context of a case: "MARKUP:" strings become Markup, "GEN" a generator of 0, 1."""
    out = {}
    for key, value in ctx.items():
        if isinstance(value, str) and value.startswith("MARKUP:"):
            value = markup(value[7:])
        elif value == "GEN":
            value = gen()
        out[key] = value
    return out
