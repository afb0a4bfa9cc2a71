# Templates on CPython: errors with name:line, strict mode, the build-time compile tool, and the
# firmware freezing of the blog example's templates.
import hashlib
import os
import shutil
import subprocess
import sys

import pytest
from kiln_host import ROOT, cases, template, template_compiler

TOOL = ROOT / "tools" / "compile_templates.py"
BLOG = ROOT / "examples" / "blog" / "templates"

SYNTAX_ERRORS = [
    ("a\n{% for x in xs %}\n{{ x }}", "t.html:2: unclosed {% for %}"),
    ("{% if x %}\n\n{% else %}", "t.html:1: unclosed {% if %}"),
    ("{% if x %}\n{% endfor %}", "t.html:2: unexpected {% endfor %}"),
    ("{% endif %}", "t.html:1: unexpected {% endif %}"),
    ("\n\n{{ x + }}", "t.html:3: expected an expression"),
    ("{{ a b }}", "t.html:1: unexpected 'b'"),
    ("{% frobnicate %}", "t.html:1: unknown tag {% frobnicate %}"),
    ("x\n{{ 'open }}", "t.html:2: unclosed {{"),
    ("{% raw %}\nx", "t.html:1: unclosed {% raw %}"),
    ("{% block a %}{% endblock %}{% block a %}{% endblock %}", "t.html:1: bad or repeated block name 'a'"),
    ("{% block a %}{{ super() }}{% endblock %}", "t.html:1: super() is only allowed"),
    ("x{% extends 'b.html' %}", "t.html:1: {% extends %} must be the first tag"),
    ("{% extends 'b.html' %}\n{% for x in y %}{% endfor %}", "t.html:2: {% for %} outside a block"),
    ("{% macro m(a=x) %}{% endmacro %}", "t.html:1: macro parameter defaults must be literals"),
    ("{% set 1x = 2 %}", "t.html:1: '1x' is not a valid variable name"),
    ("{{ x|upper(}}", "t.html:1: expected an expression"),
    ("x\n{% with a = \"x\\\", b = 1 %}", "t.html:2: unclosed {%"),
    ("{{ a ! b }}", "t.html:1: unexpected character '!'"),
    ("{% for x in %}{% endfor %}", "t.html:1: expected an expression"),
    ("{% set = 1 %}", "t.html:1: expected {% set name = expression %}"),
]


@pytest.mark.parametrize("source,message", SYNTAX_ERRORS)
def test_syntax_errors_name_template_and_line(source, message):
    with pytest.raises(template_compiler.TemplateSyntaxError) as e:
        template.Template(source, "t.html")
    assert str(e.value).startswith(message)


def test_unknown_filter_is_reported_at_render_time_with_line():
    t = template.Template("ok\n{{ x|nosuch }}", "f.html")
    with pytest.raises(template.UndefinedError, match="f.html:2: no filter named 'nosuch'"):
        t.render(x=1)


def test_strict_mode():
    t = template.Template("{{ a }}\n{{ b }}", "s.html", strict=True)
    with pytest.raises(template.UndefinedError, match="s.html:2: 'b' is undefined"):
        t.render(a=1)
    with pytest.raises(template.UndefinedError, match="no attribute 'nope'"):
        template.Template("{{ d.nope }}", strict=True).render(d={})
    with pytest.raises(template.UndefinedError):
        template.Template("{% for x in missing %}{% endfor %}", strict=True).render()
    assert template.Template("{{ m|default('d') }}{{ m is defined }}", strict=True).render() == "dFalse"
    assert template.Template("[{{ m }}]").render() == "[]"


def test_module_setting_strict(monkeypatch):
    monkeypatch.setattr(template, "strict", True)
    with pytest.raises(template.UndefinedError):
        template.Template("{{ m }}").render()


def test_generated_code_is_plain_python():
    code = template_compiler.compile_source((BLOG / "index.html").read_text(), "templates/index.html")
    compile(code, "index", "exec")
    # Nothing MicroPython's compiler lacks: no f-strings, no walrus, no annotations.
    assert " f'" not in code and ' f"' not in code and ":=" not in code and "->" not in code


def test_tool_compiles_the_blog(tmp_path):
    out = subprocess.run([sys.executable, str(TOOL), str(BLOG), str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in (tmp_path / "kiln_templates").iterdir())
    assert names == ["__init__.py", "t_base_html.py", "t_index_html.py", "t_nav_html.py", "t_post_html.py",
                     "t_table_html.py"]
    table = (tmp_path / "kiln_templates" / "t_table_html.py").read_text()
    assert "PARENT = 'base.html'" in table
    before = (tmp_path / "kiln_templates" / "t_table_html.py").stat().st_mtime_ns
    (tmp_path / "kiln_templates" / "t_gone_html.py").write_text("")
    subprocess.run([sys.executable, str(TOOL), str(BLOG), str(tmp_path)], check=True, capture_output=True)
    assert (tmp_path / "kiln_templates" / "t_table_html.py").stat().st_mtime_ns == before
    assert not (tmp_path / "kiln_templates" / "t_gone_html.py").exists()


def test_tool_records_the_folder_and_the_digest_of_the_sources_of_each_template(tmp_path):
    subprocess.run([sys.executable, str(TOOL), str(BLOG), str(tmp_path)], check=True, capture_output=True)
    package, index = {}, {}
    exec((tmp_path / "kiln_templates" / "__init__.py").read_text(), package)
    exec((tmp_path / "kiln_templates" / "t_index_html.py").read_text(), index)
    assert package["FOLDER"] == "examples/blog/templates"
    assert index["SOURCES"] == ("index.html", "base.html")
    assert index["DIGEST"] == hashlib.sha256((BLOG / "index.html").read_bytes()
                                             + (BLOG / "base.html").read_bytes()).digest()


def test_tool_reports_errors_with_path_and_line(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "ok.html").write_text("fine")
    (folder / "index.html").write_text("\n" * 11 + "{% for x in xs %}\n<li>{{ x }}</li>\n")
    out = subprocess.run([sys.executable, str(TOOL), str(folder), str(tmp_path / "out")], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == "templates/index.html:12: unclosed {% for %}"


def test_tool_refuses_two_templates_with_one_module_name(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "a-b.html").write_text("1")
    (folder / "a_b.html").write_text("2")
    out = subprocess.run([sys.executable, str(TOOL), str(folder), str(tmp_path / "out")], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert "same module name t_a_b_html" in out.stderr


@pytest.fixture
def fresh_frozen_package():
    # Each test imports its own kiln_templates package from its tmp_path.
    def forget():
        for name in [m for m in sys.modules if m == "kiln_templates" or m.startswith("kiln_templates.")]:
            del sys.modules[name]
        template.clear_cache()

    forget()
    yield
    forget()


def test_module_names():
    assert template.module_name("index.html") == "t_index_html"
    assert template.module_name("admin/user-list.html") == "t_admin_user_list_html"


def test_tool_output_renders_like_the_source(tmp_path, monkeypatch, fresh_frozen_package):
    subprocess.run([sys.executable, str(TOOL), str(BLOG), str(tmp_path)], check=True, capture_output=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(template, "folder", str(BLOG))
    posts = [{"id": 1, "title": "<t>", "author": "a b", "tags": ["x y"], "body": "b"}]
    template.clear_cache()
    monkeypatch.setattr(template, "frozen_package", None)
    from_source = template.get_template("index.html").render(title="T", posts=posts)
    template.clear_cache()
    monkeypatch.setattr(template, "frozen_package", "kiln_templates")
    frozen = template.get_template("index.html")
    assert type(frozen.module).__name__ == "module"
    assert frozen.render(title="T", posts=posts) == from_source
    template.clear_cache()
    assert "&lt;t&gt;" in from_source and "/tag/x%20y" in from_source


def test_tool_output_of_the_case_templates_matches_the_golden_cases(tmp_path, monkeypatch,
                                                                    fresh_frozen_package):
    # The tool compiles an inheritance chain into one function (_flat); it must render exactly
    # what the block functions render.
    subprocess.run([sys.executable, str(TOOL), str(ROOT / "tests" / "templates"), str(tmp_path)], check=True,
                   capture_output=True)
    grandchild = (tmp_path / "kiln_templates" / "t_grandchild_html.py").read_text()
    assert "def _flat(" in grandchild and "_sup(" not in grandchild.split("def _flat(")[1]
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(template, "frozen_package", "kiln_templates")
    monkeypatch.setattr(template, "folder", str(tmp_path / "nowhere"))
    template.clear_cache()
    checked = 0
    try:
        for case in cases.CASES:
            if isinstance(case[1], dict):
                ctx = cases.context(case[2], template.Markup, None)
                assert template.get_template(case[1]["file"]).render(**ctx) == case[3], case[0]
                checked += 1
    finally:
        template.clear_cache()
    assert checked >= 4


def test_flattening_falls_back_when_super_is_inside_an_expression():
    sources = {"b.html": "<{% block x %}base{% endblock %}>"}

    def loader(name):
        return (sources[name], name) if name in sources else None

    code = template_compiler.compile_source("{% extends 'b.html' %}{% block x %}{{ super()|upper }}{% endblock %}",
                                            "c.html", loader)
    assert "_flat" not in code
    code = template_compiler.compile_source("{% extends 'b.html' %}{% block x %}[{{ super() }}]{% endblock %}",
                                            "c.html", loader)
    assert "yield '<[base]>'" in code


def test_template_names_cannot_leave_the_folder(monkeypatch):
    monkeypatch.setattr(template, "folder", str(ROOT / "tests" / "templates"))
    monkeypatch.setattr(template, "frozen_package", None)
    template.clear_cache()
    for name in ("../conftest.py", "/etc/passwd", "a/../../x"):
        with pytest.raises(template.TemplateNotFound, match="cannot leave"):
            template.get_template(name)


FUZZ_PIECES = [
    "{{ ", " }}", "{% ", " %}", "{# ", " #}", "if ", "for ", " in ", "endif", "endfor", "else", "elif ", "set ",
    " = ", "x", "y.z", "[1, 2]", "'s'", "(", ")", "|upper", "|default(1)", " ~ ", " + ", " and ", " not ",
    "loop.index", "block b", "endblock", "macro m(a)", "endmacro", "m(1)", "super()", "raw", "endraw", "-",
    " is defined", "{", "}", "%", "#", "\n", "text", ",", ":", "1.5", "\"q\"", "\\", "'", "extends 'b.html'",
    " if ", " else ", "none", "**", "{{ x[1:2] }}", "{{ {'a': x}.a }}", "{{ x is not none }}", "{{ 1 not in y }}",
    "{{ x|join(', ') }}", "{{ -x|abs }}", "{{ (x, ) }}", "{{ x.0 }}", "[", "]", ".", "|", " is ", "==", "y[",
    "{% set a, b = 1, 2 %}", "{% for a, b in y.items() %}", "{% endfor %}", "{% macro m(a, b='x') %}",
]


def test_random_templates_either_fail_cleanly_or_compile_to_python():
    import random

    rng = random.Random(6)
    compiled = 0
    for _ in range(1500):
        source = "".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 14)))
        try:
            code = template_compiler.compile_source(source, "f.html")
        except template_compiler.TemplateSyntaxError as e:
            assert str(e).startswith("f.html:")
            continue
        compile(code, "f.html", "exec")
        compiled += 1
    assert compiled > 150


def makemanifest(tmp_path, templates):
    """Run MicroPython's makemanifest on the unix board's manifest (as `make unix` does, but into
    tmp_path) with KILN_TEMPLATES=templates; return the CompletedProcess."""
    mp = ROOT / "build" / "micropython"
    mpy_cross = ROOT / "build" / "mpy-cross" / "mpy-cross"
    qstrs = ROOT / "build" / "unix" / "genhdr" / "qstrdefs.preprocessed.h"
    if not mpy_cross.exists() or not qstrs.exists():
        pytest.skip("the unix firmware is not built (make unix)")
    (tmp_path / "build" / "genhdr").mkdir(parents=True)
    shutil.copy(qstrs, tmp_path / "build" / "genhdr")
    env = dict(os.environ, KILN_TEMPLATES=str(templates), MICROPY_MPYCROSS=str(mpy_cross), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, str(mp / "tools" / "makemanifest.py"), "-o", str(tmp_path / "frozen_content.c"),
         "-v", "MPY_DIR=%s" % mp, "-v", "MPY_LIB_DIR=%s" % (ROOT / "build" / "vendor" / "micropython-lib"),
         "-v", "PORT_DIR=%s" % (mp / "ports" / "unix"), "-v", "BOARD_DIR=%s" % (ROOT / "boards" / "UNIX"),
         "-b", str(tmp_path / "build"), str(ROOT / "boards" / "UNIX" / "manifest.py")],
        cwd=mp / "ports" / "unix", env=env, capture_output=True, text=True)


def test_firmware_build_freezes_the_templates_folder(tmp_path):
    out = makemanifest(tmp_path, BLOG)
    assert out.returncode == 0, out.stdout + out.stderr
    frozen = (tmp_path / "frozen_content.c").read_text()
    assert "kiln_templates/t_table_html.py" in frozen and "kiln/template.py" in frozen


def test_firmware_build_stops_at_a_broken_template(tmp_path):
    folder = tmp_path / "app" / "templates"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<ul>\n{% for x in xs %}\n<li>{{ x }}</li>\n")
    out = makemanifest(tmp_path, folder)
    assert out.returncode != 0
    assert (out.stdout + out.stderr).strip().endswith("templates/index.html:2: unclosed {% for %}")


def test_the_firmware_compiles_templates_to_the_same_code(upy, tmp_path):
    # The compiler runs on CPython at build time and in the firmware for filesystem templates:
    # both must turn the same source into the same Python (or the same error).
    import json
    import random

    rng = random.Random(42)
    sources = ["".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 14))) for _ in range(600)]
    sources += [(BLOG / name).read_text() for name in ("base.html", "index.html", "post.html", "table.html")]
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    expected = []
    for source in sources:
        try:
            expected.append(template_compiler.compile_source(source, "f.html"))
        except template_compiler.TemplateSyntaxError as e:
            expected.append("error: %s" % e)
    code = (
        "import json\n"
        "from kiln.template_compiler import compile_source, TemplateSyntaxError\n"
        "out = open('compiled.json', 'w')\n"
        "for source in json.load(open('sources.json')):\n"
        "    try:\n"
        "        code = compile_source(source, 'f.html')\n"
        "    except TemplateSyntaxError as e:\n"
        "        code = 'error: %s' % e\n"
        "    out.write(json.dumps(code) + '\\n')\n"
        "out.close()\n"
    )
    proc = upy(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = [json.loads(line) for line in (tmp_path / "compiled.json").read_text().splitlines()]
    assert len(got) == len(expected)
    for source, mine, theirs in zip(sources, got, expected, strict=True):
        assert mine == theirs, source


def test_a_big_page_streams_in_a_small_heap(upy):
    # 2000 rows (~165 KB of HTML, rows made on the fly) in a 32 KB heap, most of it taken by the
    # kiln package itself: rendering keeps only the current chunk.
    code = (
        "import gc\n"
        "from kiln import template\n"
        "t = template.get_template('table.html')\n"
        "rows = ({'id': i, 'name': 'user <%d>' % i, 'email': 'e%d@x' % i, 'note': 'a & b'} for i in range(2000))\n"
        "n = 0\n"
        "for chunk in t.generate(title='big', rows=rows):\n"
        "    n += len(chunk)\n"
        "print(n)\n"
    )
    proc = upy(code, heapsize="32k")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(proc.stdout) > 150000


def test_markup_operations_escape_the_other_side():
    m = template.Markup
    assert str(m("<b>%s</b> %.1f %d") % ("<i>", 2.25, 3)) == "<b>&lt;i&gt;</b> 2.2 3"
    assert str(m("<br>") + "<") == "<br>&lt;" and str("<" + m("<br>")) == "&lt;<br>"
    assert str(m(", ").join(["<", m("<b>")])) == "&lt;, <b>"
    assert template.escape(m("<b>")) == m("<b>") and str(template.escape("'\"")) == "&#39;&#34;"
