# A dashboard-class app for the ESP32 device profile (tests/test_device_profiles.py): routing with
# converters, before/after hooks, a signed-cookie Session and a page from the frozen templates
# (the unix firmwares freeze examples/blog/templates).
from kiln import App, abort, render_template
from kiln.session import Session, with_session

app = App()
Session(app, secret_key="device-secret")

SENSORS = {1: {"id": 1, "title": "Greenhouse", "body": "21.5 C, 64 %", "author": "probe", "tags": []},
           2: {"id": 2, "title": "Cellar", "body": "12.0 C, 80 %", "author": "probe", "tags": []}}


@app.before_request
def before(request):
    request.g.user = request.headers.get("X-User", "guest")


@app.after_request
def after(request, response):
    response.headers["X-Served-To"] = request.g.user
    return response


@app.get("/")
def index(request):
    return render_template("index.html", title="Dashboard", posts=list(SENSORS.values()))


@app.get("/sensor/<int:sensor_id>")
def sensor(request, sensor_id):
    if sensor_id not in SENSORS:
        abort(404)
    return SENSORS[sensor_id]


@app.post("/visit")
@with_session
def visit(request, session):
    session["visits"] = session.get("visits", 0) + 1
    return {"visits": session["visits"]}
