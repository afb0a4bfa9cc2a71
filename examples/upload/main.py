# A form with a file upload: GET / shows the form, POST /upload stores the file in uploads/.
import os

from kiln import App, Request, Response, abort
from kiln.multipart import with_form_data

# Files up to 1 MB; bodies over 4 KB are streamed from the socket and spooled to a file, so an
# upload never sits whole in RAM.
Request.max_content_length = 1024 * 1024
Request.max_body_length = 4096
Request.max_file_memory = 2048
Request.upload_dir = "."

app = App()
UPLOADS = "uploads"

PAGE = """<!doctype html>
<title>Upload</title>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input name="title" placeholder="Title">
  <input type="file" name="file">
  <button>Upload</button>
</form>
<ul>%s</ul>
"""


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def listing():
    try:
        return sorted(os.listdir(UPLOADS))
    except OSError:
        return []


@app.get("/")
def form(request):
    rows = "".join("<li>%s</li>" % escape(name) for name in listing())
    return Response(PAGE % rows, headers={"Content-Type": "text/html; charset=UTF-8"})


@app.post("/upload")
@with_form_data
def upload(request):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, "no file in the form")
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    if not name or name.startswith("."):
        abort(400, "bad file name")
    try:
        os.mkdir(UPLOADS)
    except OSError:
        pass
    upload.save(UPLOADS + "/" + name)
    return {"title": request.form.get("title", ""), "filename": name, "size": upload.size}, 201


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
