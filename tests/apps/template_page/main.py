# Pages from the frozen templates (the unix firmwares freeze examples/blog/templates) without the
# blog example's 100-row benchmark table, which alone takes about 18 KB of an ESP8266's heap.
from kiln import App, abort, render_template

app = App()

POSTS = [
    {"id": 2, "title": "Templates in <firmware>", "author": "ann lee", "tags": ["kiln", "templates"],
     "body": "Compiled at build time & streamed: \"no parsing\" on the device."},
    {"id": 1, "title": "Hello, Kiln", "author": "bob", "tags": ["news"],
     "body": "The first post."},
]


@app.get("/")
def index(request):
    return render_template("index.html", title="Kiln blog", posts=POSTS)


@app.get("/post/<int:post_id>")
def post(request, post_id):
    for p in POSTS:
        if p["id"] == post_id:
            return render_template("post.html", post=p)
    abort(404)
