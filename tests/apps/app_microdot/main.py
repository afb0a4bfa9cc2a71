# A Microdot 2.x app (routes, converters, JSON, hooks, cookies, errors, a sub-app) ported to Kiln
# by changing its imports only. The Microdot original imports are:
#   from microdot import Microdot, Response, abort, redirect
# tests/test_app_microdot_port.py serves this file on Kiln and, when Microdot is at hand, the
# same file with those imports on Microdot, and compares the answers.
from kiln import App as Microdot, Response, abort, redirect  # noqa: I001

app = Microdot()
books = Microdot()
store = {1: {"id": 1, "title": "Dune"}, 2: {"id": 2, "title": "Emma"}}


@app.before_request
def check_banned(request):
    if request.headers.get("X-Banned") == "yes":
        return {"error": "banned"}, 403


@app.after_request
def stamp(request, response):
    response.headers["X-App"] = "port"
    return response


@app.errorhandler(404)
def not_found(request):
    return {"error": "not found"}, 404


@app.errorhandler(ValueError)
def value_error(request, exception):
    return {"error": "bad value: %s" % exception}, 400


@app.route("/")
def index(request):
    return "index page"


@app.get("/hello/<name>")
async def hello(request, name):
    return "Hello, %s!" % name


@app.route("/echo", methods=["GET", "POST"])
def echo(request):
    args = request.args.getlist("x") if request.args else []  # Microdot: a plain {} when empty
    return {"method": request.method, "args": args, "json": request.json}


@app.get("/files/<path:path>")
def files(request, path):
    return {"path": path}


@app.get("/code/<re:[A-Z][A-Z][0-9][0-9]:code>")
def code(request, code):
    return code


@app.get("/set-cookie")
def set_cookie(request):
    response = Response("cookie set")
    response.set_cookie("theme", "dark", http_only=True)
    return response


@app.get("/read-cookie")
def read_cookie(request):
    return request.cookies.get("theme", "none")


@app.get("/per-request-hook")
def per_request_hook(request):
    @request.after_request
    def add_header(request, response):
        response.headers["X-Once"] = "1"
        return response

    return "hooked"


@app.get("/g")
def g_value(request):
    request.g.value = 21
    return {"double": request.g.value * 2}


@app.get("/tuple")
def tuple_response(request):
    return "created", 201, {"X-Custom": "yes"}


@app.get("/go")
def go(request):
    return redirect("/")


@app.get("/abort")
def do_abort(request):
    abort(404)


@app.get("/value")
def raise_value(request):
    raise ValueError("nope")


@books.get("/<int:book_id>")
def get_book(request, book_id):
    book = store.get(book_id)
    if book is None:
        abort(404)
    return book


@books.post("/")
def add_book(request):
    book = dict(request.json)
    book["id"] = max(store) + 1
    store[book["id"]] = book
    return book, 201


app.mount(books, url_prefix="/books")
