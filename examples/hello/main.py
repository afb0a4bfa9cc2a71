# The default app of `make run`: one route, one line of text.
from kiln import App

app = App()


@app.get("/")
def index(request):
    return "Hello, world!"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
