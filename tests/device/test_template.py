# Templates inside the firmware: the golden cases of tests/templates/cases.py (compiled here, on
# MicroPython, from source), hostile input, errors, strict mode, and the blog example's templates
# that `make unix` froze into the firmware.
import gc
import sys

sys.path.insert(0, "../templates")
import cases  # noqa: E402
from kiln import template  # noqa: E402


def _use_folder(path):
    # The running App's template_folder wins over the module setting (once main is imported).
    template.folder = path
    app = sys.modules.get("kiln.app")
    if app and app.current_app:
        app.current_app.template_folder = path


def _cases_folder():
    _use_folder("../templates")
    template.frozen_package = None
    template.clear_cache()
    template.filters.update(cases.USER_FILTERS)


def _frozen_folder():
    _use_folder("../../examples/blog/templates")
    template.frozen_package = "kiln_templates"
    template.clear_cache()


def _gen():
    yield 0
    yield 1


def _render(source, ctx):
    ctx = cases.context(ctx, template.Markup, _gen)
    if isinstance(source, dict):
        return template.get_template(source["file"]).render(**ctx)
    return template.Template(source, "case.html").render(**ctx)


def test_golden_cases():
    _cases_folder()
    failed = []
    for case in cases.CASES:
        try:
            out = _render(case[1], case[2])
        except Exception as e:  # noqa: BLE001 - reported with the case's name
            out = "raised %r" % e
        if out != case[3]:
            failed.append("%s: %r != %r" % (case[0], out, case[3]))
    assert not failed, "\n".join(failed)


def test_hostile_input_is_escaped_everywhere():
    hostile = "\"'><script>alert(1)</script>&amp;"
    t = template.Template("<a href=\"{{ s }}\" title='{{ s }}'>{{ s }}</a>{{ d.k }}{{ xs|join(',') }}"
                          "{{ s|upper }}{{ s|title }}{{ s ~ s }}{{ m(s) }}"
                          "{% macro m(x) %}{{ x }}{% endmacro %}")
    out = t.render(s=hostile, d={"k": hostile}, xs=[hostile])
    assert "<script" not in out.lower(), out
    # Only the template's own quotes survive; every value's quote is an entity.
    assert out.count('"') == 2 and out.count("'") == 2, out
    assert out.lower().count("&lt;script&gt;") == 10, out
    assert out.lower().count("&amp;amp;") == 10, out


def test_markup_and_safe_opt_out():
    t = template.Template("{{ a }}|{{ b|safe }}|{{ c }}")
    assert t.render(a=template.Markup("<i>"), b="<b>", c=template.escape("<&>")) == "<i>|<b>|&lt;&amp;&gt;"
    assert str(template.Markup("<p>%s</p>") % "<x>") == "<p>&lt;x&gt;</p>"
    assert str(template.Markup("<br>").join(["<", template.Markup("&amp;")])) == "&lt;<br>&amp;"


def test_errors_name_template_and_line():
    from kiln.template_compiler import TemplateSyntaxError

    bad = [
        ("a\n{% for x in xs %}\n{{ x }}", "t.html:2: unclosed {% for %}"),
        ("{% if x %}\n{% endfor %}", "t.html:2: unexpected {% endfor %}"),
        ("\n\n{{ x + }}", "t.html:3: expected an expression"),
        ("{% frobnicate %}", "t.html:1: unknown tag {% frobnicate %}"),
        ("x\n{{ 'open }}", "t.html:2: unclosed {{"),
        ("{% block a %}{% block a %}{% endblock %}{% endblock %}", "t.html:1: bad or repeated block name"),
    ]
    for source, message in bad:
        try:
            template.Template(source, "t.html")
        except TemplateSyntaxError as e:
            assert str(e).startswith(message), (str(e), message)
        else:
            raise AssertionError("no error for %r" % source)


def test_filesystem_template_error_names_its_path():
    from kiln.template_compiler import TemplateSyntaxError

    _use_folder(".")
    template.frozen_package = None
    template.clear_cache()
    with open("_broken.html", "w") as f:
        f.write("<ul>\n{% for x in xs %}\n<li>{{ x }}</li>\n")
    try:
        template.get_template("_broken.html")
    except TemplateSyntaxError as e:
        assert str(e) == "./_broken.html:2: unclosed {% for %}", str(e)
    else:
        raise AssertionError("no error")
    finally:
        import os

        os.remove("_broken.html")


def test_strict_mode_raises_with_name_and_line():
    t = template.Template("ok\n{{ known }}\n{{ missing }}", "s.html", strict=True)
    try:
        t.render(known=1)
    except template.UndefinedError as e:
        assert str(e) == "s.html:3: 'missing' is undefined", str(e)
    else:
        raise AssertionError("no error")
    assert template.Template("{{ missing }}|{{ missing|default('d') }}", "s.html").render() == "|d"
    assert template.Template("{{ x is defined }}", strict=True).render() == "False"


def test_missing_template():
    _cases_folder()
    try:
        template.get_template("nope.html")
    except template.TemplateNotFound as e:
        assert "nope.html" in str(e)
    else:
        raise AssertionError("no error")


def test_frozen_templates_render_like_the_filesystem_ones():
    sys.path.insert(0, "../../examples/blog")
    import main

    pages = [("index.html", {"title": "<t>", "posts": main.POSTS}), ("post.html", {"post": main.POSTS[0]}),
             ("table.html", {"title": "t", "rows": main.ROWS}), ("index.html", {"posts": []})]
    for name, ctx in pages:
        _frozen_folder()
        frozen = template.get_template(name)
        assert type(frozen.module).__name__ == "module", name
        out_frozen = frozen.render(**ctx)
        template.frozen_package = None
        template.clear_cache()
        out_fs = template.get_template(name).render(**ctx)
        assert out_frozen == out_fs, name
        assert "</html>" in out_frozen


def test_frozen_template_costs_no_heap_beyond_its_module():
    import kiln_templates  # noqa: F401 - the package first, so only the template module is measured

    sys.modules.pop("kiln_templates.t_post_html", None)
    gc.collect()
    before = gc.mem_alloc()
    __import__("kiln_templates.t_post_html")
    used = gc.mem_alloc() - before
    # The module object, its globals dict and one function object per render/block: no code.
    assert used < 1024, used
    # Compiling the same template from its source allocates far more (template and Python
    # compilers), and keeps its bytecode in RAM.
    import kiln.template_compiler  # noqa: F401 - its own import is not counted

    with open("../../examples/blog/templates/post.html") as f:
        source = f.read()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        template.Template(source, "post.html")
        compiled = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert compiled > 10 * used, (compiled, used)


def test_render_streams_with_little_heap():
    _frozen_folder()
    t = template.get_template("table.html")
    rows = [{"id": i, "name": "n%d" % i, "email": "e", "note": "x"} for i in range(100)]
    for _ in t.generate(title="t", rows=rows):
        pass
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        n = 0
        for _chunk in t.generate(title="t", rows=rows):
            n += 1
        used = gc.mem_alloc() - before
        # The only chunks allocated here are the row ids as str (no value needs escaping).
        before = gc.mem_alloc()
        for row in rows:
            str(row["id"])
        chunks = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert n > 400
    assert used - chunks < 1024, (used, chunks)


def test_render_template_through_the_blog_app():
    sys.path.insert(0, "../../examples/blog")
    import main
    from kiln.testing import TestClient

    template.frozen_package = "kiln_templates"
    template.clear_cache()
    _use_folder("../../examples/blog/templates")
    client = TestClient(main.app)
    res = client.get("/table")
    assert res.status_code == 200
    assert res.headers["Content-Type"] == "text/html; charset=utf-8"
    assert res.text == template.get_template("table.html").render(title="100 rows", rows=main.ROWS)
    assert "<td>user &lt;7&gt;</td>" in res.text
    res = client.get("/post/2")
    assert "Templates in &lt;firmware&gt;" in res.text and "Served by Kiln · post 2" in res.text
    assert client.get("/post/9").status_code == 404
    # The response body streams: render_template hands the loop a generator, not a str.
    body = template.render_template("table.html", title="t", rows=main.ROWS).body
    assert type(body).__name__ == "generator"


def test_render_template_takes_a_variable_called_name():
    import os

    _use_folder(".")
    template.frozen_package = None
    template.clear_cache()
    with open("_hello.html", "w") as f:
        f.write("Hello {{ name }}")
    try:
        res = template.render_template("_hello.html", name="<Bob>")
        assert "".join(res.body) == "Hello &lt;Bob&gt;"
    finally:
        os.remove("_hello.html")


def test_an_app_file_whose_inlined_parent_differs_comes_before_the_frozen_template():
    # index.html as frozen, base.html changed: the frozen index.html has the old base.html in it.
    import os

    with open("../../examples/blog/templates/index.html") as f:
        index = f.read()
    os.mkdir("_own")
    try:
        with open("_own/index.html", "w") as f:
            f.write(index)
        with open("_own/base.html", "w") as f:
            f.write("own base {% block content %}{% endblock %}")
        _use_folder("_own")
        template.frozen_package = "kiln_templates"
        template.clear_cache()
        t = template.get_template("index.html")
        assert type(t.module).__name__ != "module"
        assert t.render(title="T", posts=[]).startswith("own base"), t.render(title="T", posts=[])
    finally:
        for name in ("index.html", "base.html"):
            os.remove("_own/" + name)
        os.rmdir("_own")
        template.clear_cache()
