# A small blog rendered with templates. `make unix` compiles templates/ to Python and freezes it
# into the firmware (see the Makefile's templates section), so these pages render without
# compiling anything; copied to a device whose firmware lacks them, templates/ is compiled on
# first use instead.
from kiln import App, abort, render_template

app = App()

POSTS = [
    {"id": 2, "title": "Templates in <firmware>", "author": "ann lee", "tags": ["kiln", "templates"],
     "body": "Compiled at build time & streamed: \"no parsing\" on the device."},
    {"id": 1, "title": "Hello, Kiln", "author": "bob", "tags": ["news"],
     "body": "The first post."},
]

# The 100-row page of the benchmark (bench/templates.py renders the same rows).
ROWS = [{"id": i, "name": "user <%d>" % i, "email": "user%d@example.com" % i, "note": "a & b's \"note\""}
        for i in range(100)]


@app.get("/")
def index(request):
    return render_template("index.html", title="Kiln blog", posts=POSTS)


@app.get("/post/<int:post_id>")
def post(request, post_id):
    for p in POSTS:
        if p["id"] == post_id:
            return render_template("post.html", post=p)
    abort(404)


@app.get("/table")
def table(request):
    return render_template("table.html", title="100 rows", rows=ROWS)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
