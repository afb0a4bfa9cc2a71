# Requests as handlers see them: query args, headers, cookies, JSON, forms, g, limits.
from kiln import App, Request
from kiln.request import MultiDict
from kiln.testing import TestClient


def make_app():
    app = App()

    @app.route("/echo", methods=["GET", "POST"])
    def echo(request):
        return {
            "method": request.method,
            "path": request.path,
            "url": request.url,
            "query_string": request.query_string,
            "args": request.args.getlist("a"),
            "b": request.args.get("b"),
            "n": request.args.get("n", -1, type=int),
            "agent": request.headers.get("user-agent"),
            "cookies": request.cookies,
            "content_type": request.content_type,
            "content_length": request.content_length,
            "body": request.body.decode(),
        }

    @app.post("/json")
    def json_view(request):
        return {"got": request.json}

    @app.post("/form")
    def form_view(request):
        form = request.form
        return {"name": form.get("name"), "tags": form.getlist("tag")} if form is not None else {"form": None}

    @app.get("/g")
    def g_view(request):
        request.g.count = 1
        request.g.count += 1
        return str(request.g.count) + " " + str(request.app is app)

    return app


def test_query_headers_cookies_body():
    c = TestClient(make_app())
    res = c.post("/echo?a=1&a=2+3&b=%C3%A9&n=7", body="raw body",
                 headers={"User-Agent": "t/1", "Cookie": 'x=1; y="two"; x=3', "Content-Type": "text/plain"})
    j = res.json
    assert j["method"] == "POST" and j["path"] == "/echo"
    assert j["url"] == "/echo?a=1&a=2+3&b=%C3%A9&n=7"
    assert j["args"] == ["1", "2 3"], j["args"]
    assert j["b"] == "é" and j["n"] == 7
    assert j["agent"] == "t/1"
    assert j["cookies"] == {"x": "1", "y": "two"}, j["cookies"]
    assert j["content_type"] == "text/plain" and j["content_length"] == 8
    assert j["body"] == "raw body"
    j = c.get("/echo").json
    assert j["args"] == [] and j["b"] is None and j["n"] == -1 and j["cookies"] == {}


def test_json_body_and_malformed_json():
    c = TestClient(make_app())
    assert c.post("/json", json={"k": [1, 2]}).json == {"got": {"k": [1, 2]}}
    assert c.post("/json", body="{}", headers={"Content-Type": "text/plain"}).json == {"got": None}
    res = c.post("/json", body="{nope", headers={"Content-Type": "application/json"})
    assert res.status_code == 400, res.status_code


def test_urlencoded_form():
    c = TestClient(make_app())
    res = c.post("/form", body="name=J%C3%B6+rg&tag=a&tag=b",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.json == {"name": "Jö rg", "tags": ["a", "b"]}, res.json
    assert c.post("/form", body="x", headers={"Content-Type": "text/plain"}).json == {"form": None}


def test_too_many_form_fields_413():
    c = TestClient(make_app())
    body = "&".join("f%d=1" % i for i in range(Request.max_form_parts + 1))
    res = c.post("/form", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 413, res.status_code


def test_body_over_max_413():
    app = make_app()
    saved = Request.max_content_length
    Request.max_content_length = 100
    try:
        res = TestClient(app).post("/json", body="x" * 101, headers={"Content-Type": "application/json"})
        assert res.status_code == 413, res.status_code
    finally:
        Request.max_content_length = saved


def test_g_and_app():
    assert TestClient(make_app()).get("/g").text == "2 True"


def test_multidict():
    d = MultiDict([("a", "1"), ("b", "x"), ("a", "2")])
    assert d["a"] == "1" and d.get("a") == "1" and d.getlist("a") == ["1", "2"]
    assert d.get("zz", "dflt") == "dflt" and d.getlist("zz") == []
    assert d.get("b", 0, type=int) == 0 and d.getlist("a", type=int) == [1, 2]
    assert sorted(d.keys()) == ["a", "b"]
    assert d.to_dict() == {"a": "1", "b": "x"}
    assert d.to_dict(flat=False) == {"a": ["1", "2"], "b": ["x"]}


class ShoutingRequest(Request):
    greeting = "hello"

    @property
    def shout(self):
        return self.path.upper()

    @classmethod
    def kind(cls):
        return "%s %s" % (cls.greeting, issubclass(cls, ShoutingRequest))

    def __getattr__(self, name):
        if name == "visits":
            self.visits = [self.path]
            return self.visits
        return Request.__getattr__(self, name)  # kiln's own lazy attributes: args, json...


class ShoutingApp(App):
    request_class = ShoutingRequest


def test_views_get_an_instance_of_the_apps_request_class():
    app = ShoutingApp()

    @app.get("/a/<int:n>")
    def view(request, n):
        request.user = "ann"  # stored on the request
        first = request.visits
        return {
            "mine": isinstance(request, ShoutingRequest),
            "kiln": isinstance(request, Request),
            "app": type(request) is app._request and request.app is app,
            "shout": request.shout,  # a property
            "kind": request.kind(),  # a classmethod
            "visits": first,  # __getattr__, then kept
            "same": request.visits is first,
            "args": request.args.get("q"),  # kiln.Request's __getattr__
            "user": request.user,
            "url_args": request.url_args,
            "method": request.method,  # a C field
        }

    assert TestClient(app).get("/a/3?q=x").json == {
        "mine": True, "kiln": True, "app": True, "shout": "/A/3", "kind": "hello True",
        "visits": ["/a/3"], "same": True, "args": "x", "user": "ann", "url_args": {"n": 3},
        "method": "GET",
    }
