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

