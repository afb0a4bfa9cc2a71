# Golden rendering cases (tests/templates/cases.py) on CPython; the same cases run in the firmware
# (tests/device/test_template.py). Where Jinja2 renders a case the same way, it is compared too.
import jinja2
import markupsafe
import pytest
from kiln_host import TEMPLATE_CASES, cases, template

IDS = [case[0] for case in cases.CASES]


def gen():
    yield 0
    yield 1


@pytest.fixture(autouse=True)
def settings():
    saved = template.folder, template.frozen_package
    template.folder = str(TEMPLATE_CASES)
    template.frozen_package = None
    template.clear_cache()
    template.filters.update(cases.USER_FILTERS)
    yield
    template.folder, template.frozen_package = saved
    template.clear_cache()


def render_kiln(source, ctx):
    ctx = cases.context(ctx, template.Markup, gen)
    if isinstance(source, dict):
        return template.get_template(source["file"]).render(**ctx)
    return template.Template(source, "case.html").render(**ctx)


def render_jinja(source, ctx):
    env = jinja2.Environment(autoescape=True, loader=jinja2.FileSystemLoader(str(TEMPLATE_CASES)))
    env.filters.update(cases.USER_FILTERS)
    ctx = cases.context(ctx, markupsafe.Markup, gen)
    if isinstance(source, dict):
        return env.get_template(source["file"]).render(**ctx)
    return env.from_string(source).render(**ctx)


@pytest.mark.parametrize("case", cases.CASES, ids=IDS)
def test_golden(case):
    assert render_kiln(case[1], case[2]) == case[3]


@pytest.mark.parametrize("case", [c for c in cases.CASES if len(c) < 5 or c[4]],
                         ids=[c[0] for c in cases.CASES if len(c) < 5 or c[4]])
def test_same_as_jinja(case):
    assert render_jinja(case[1], case[2]) == case[3]


def test_generate_streams_chunks():
    t = template.Template("<ul>{% for x in xs %}<li>{{ x }}</li>{% endfor %}</ul>")
    chunks = list(t.generate(xs=["a", "<"]))
    assert len(chunks) > 3
    assert all(type(c) is str for c in chunks)
    assert "".join(chunks) == "<ul><li>a</li><li>&lt;</li></ul>"
