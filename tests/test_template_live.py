# A template frozen into the firmware at build time, rendered through a live request: the blog
# example served by the unix firmware over a real socket.
import http.client

from kiln_host import ROOT, template

BLOG = ROOT / "examples" / "blog"


def get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path)
    res = conn.getresponse()
    body = res.read().decode()
    conn.close()
    return res, body


def test_frozen_template_through_a_live_request(serve, upy, tmp_path):
    # Only main.py, no templates/ folder: the pages can come from the frozen modules alone.
    (tmp_path / "main.py").write_text((BLOG / "main.py").read_text())
    frozen = upy("import kiln_templates.t_table_html as m; print(m.PARENT, m.NAME)")
    assert frozen.stdout.strip() == "base.html table.html", frozen.stdout + frozen.stderr
    # names that map to the same module name do not find it
    other = upy("from kiln import template\n"
                "for n in ('table_html', 'table-html', 'table/html', 'table.html'):\n"
                "    try:\n"
                "        print(n, template.get_template(n).module.NAME)\n"
                "    except template.TemplateNotFound:\n"
                "        print(n, 'not found')")
    assert other.stdout.split("\n")[:4] == ["table_html not found", "table-html not found",
                                            "table/html not found", "table.html table.html"], other.stdout
    server = serve(tmp_path)
    res, body = get(server, "/table")
    assert res.status == 200, body
    assert res.getheader("Content-Type") == "text/html; charset=utf-8"
    assert res.getheader("Transfer-Encoding") == "chunked"
    assert body.count("<tr><td>") == 100
    assert "<td>user &lt;42&gt;</td>" in body and "a &amp; b&#39;s &#34;note&#34;" in body
    # The same page rendered on CPython from the template sources.
    saved = template.folder, template.frozen_package
    template.folder, template.frozen_package = str(BLOG / "templates"), None
    template.clear_cache()
    try:
        rows = [{"id": i, "name": "user <%d>" % i, "email": "user%d@example.com" % i,
                 "note": "a & b's \"note\""} for i in range(100)]
        assert body == template.get_template("table.html").render(title="100 rows", rows=rows)
    finally:
        template.folder, template.frozen_package = saved
        template.clear_cache()
    res, body = get(server, "/post/2")
    assert res.status == 200 and "&lt;firmware&gt;" in body and "\\u003cfirmware\\u003e" in body
    assert server.alive()



# The blog's templates are frozen into the shared unix firmware; another app's own templates/
# comes first. The app below has its own index.html and no nav.html.
OWN_APP = """from kiln import App, render_template
app = App()

@app.get("/")
def index(request):
    return render_template("index.html", title="mine")

@app.get("/nav")
def nav(request):
    return render_template("nav.html")
"""


def own_app(tmp_path):
    app = tmp_path / "app"
    (app / "templates").mkdir(parents=True)
    (app / "main.py").write_text(OWN_APP)
    (app / "templates" / "index.html").write_text("<h1>own {{ title }}</h1>")
    return app


def test_an_app_with_its_own_index_html_gets_its_own_page(serve, tmp_path):
    server = serve(own_app(tmp_path))
    res, body = get(server, "/")
    assert res.status == 200 and body == "<h1>own mine</h1>", body


def test_a_template_the_app_lacks_is_the_frozen_one(serve, tmp_path):
    server = serve(own_app(tmp_path))
    res, body = get(server, "/nav")
    assert res.status == 200 and body == (BLOG / "templates" / "nav.html").read_text().strip(), body


def test_the_console_says_once_that_the_app_file_was_used(serve, tmp_path):
    server = serve(own_app(tmp_path))
    for _ in range(3):
        get(server, "/")
    lines = [line for line in server.console().splitlines() if "template" in line]
    assert lines == ["Kiln: template index.html: templates/index.html, not the frozen one "
                     "(from examples/blog/templates)"], server.console()


def test_the_blog_served_from_its_folder_renders_its_frozen_pages(serve):
    server = serve(BLOG)
    res, body = get(server, "/post/2")
    assert res.status == 200 and "&lt;firmware&gt;" in body
    assert ("Kiln: template post.html: the frozen one (from examples/blog/templates), "
            "same as templates/post.html") in server.console().splitlines(), server.console()
