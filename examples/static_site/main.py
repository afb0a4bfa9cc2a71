# A static site: static/ served at /, with precompressed .gz assets chosen when the client
# accepts gzip, ETag/Last-Modified revalidation and ranges.
from kiln import App

app = App()


@app.get("/api/status")
def status(request):
    return {"ok": True}


app.static("/", "static", max_age=600)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
