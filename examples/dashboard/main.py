# A live temperature/humidity dashboard for a DHT22, and the default app of `make run`.
#
# A background task reads the sensor every few seconds, keeps the last readings and publishes
# each one to a hub; every open page gets it pushed over a WebSocket (/ws), or over server-sent
# events (/events) where no WebSocket opens (a proxy that does not pass them). The switch drives
# a relay (or an LED): a command from one page sets the pin and every open page shows the new
# state. /settings is a form (CSRF-protected, checked field by field, saved atomically);
# /api/readings, /api/state and /history.csv give the data to programs. On the unix firmware a
# simulated sensor and relay stand in for the hardware (sensor.py).
import asyncio
import json
import time

import settings as config
from history import History
from kiln import App, Response, redirect, render_template
from kiln.csrf import CSRF
from kiln.hub import Hub
from kiln.sse import with_sse
from kiln.websocket import with_websocket
from sensor import SIMULATED, open_relay, open_sensor

SENSOR_PIN = 4  # the DHT22's data line
RELAY_PIN = 2  # the relay's input (GPIO 2 is the on-board LED of many ESP32 boards)
SETTINGS_FILE = "settings.json"
HISTORY_SIZE = 60
# The API gives times in seconds since 1970 (Unix time); MicroPython's epoch is 2000 on some ports.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0

app = App()
csrf = CSRF(app)
hub = Hub()
sensor = open_sensor(SENSOR_PIN)
relay = open_relay(RELAY_PIN)
history = History(HISTORY_SIZE)
defaults = dict(config.DEFAULTS, interval=2 if SIMULATED else 10)
settings = config.load(SETTINGS_FILE, defaults)
status = {"sensor_errors": 0}
settings_changed = asyncio.Event()


# --- the readings -----------------------------------------------------------------------------

def shown(celsius):
    """A temperature in the unit of the settings, to one decimal."""
    if settings["unit"] == "F":
        return round(celsius * 9 / 5 + 32, 1)
    return round(celsius, 1)


def timestamp(t):
    y, mo, d, h, mi, s = time.gmtime(t)[:6]
    return "%04d-%02d-%02d %02d:%02d:%02d" % (y, mo, d, h, mi, s)


def reading_message(reading):
    if reading is None:
        return None
    t, temperature, humidity = reading
    temperature = shown(temperature)
    return {"kind": "reading", "time": t + EPOCH_OFFSET, "at": timestamp(t), "temperature": temperature,
            "humidity": round(humidity, 1), "unit": settings["unit"],
            "alarm": temperature > settings["alarm"]}


def relay_message():
    return {"kind": "relay", "on": relay.value() == 1}


def read_sensor():
    try:
        sensor.measure()
        temperature, humidity = sensor.temperature(), sensor.humidity()
    except OSError:
        status["sensor_errors"] += 1
        hub.publish("reading", {"kind": "error", "message": "The sensor did not answer."})
        return
    history.add(time.time(), temperature, humidity)
    hub.publish("reading", reading_message(history.latest()))


async def sample():
    """Read the sensor every ``interval`` seconds (at once after the settings change)."""
    while True:
        read_sensor()
        settings_changed.clear()
        try:
            await asyncio.wait_for(settings_changed.wait(), settings["interval"])
        except asyncio.TimeoutError:
            pass


def set_relay(on):
    relay.value(1 if on else 0)
    hub.publish("relay", relay_message())


def command(text):
    """Apply a command from a page: {"relay": true|false}. False if it is not one."""
    try:
        msg = json.loads(text)
    except ValueError:
        return False
    if type(msg) is not dict or type(msg.get("relay")) is not bool:
        return False
    set_relay(msg["relay"])
    return True


# --- pages ------------------------------------------------------------------------------------

def page(request, template, **context):
    # What layout.html shows on every page comes with each one.
    return render_template(template, settings=settings, simulated=SIMULATED,
                           csrf_token=csrf.token(request), **context)


@app.get("/")
def dashboard(request):
    return page(request, "dashboard.html", reading=reading_message(history.latest()),
                relay_on=relay.value() == 1)


SETTINGS_FIELDS = (
    ("name", "Name", "text", "Shown at the top of every page."),
    ("interval", "Read every (seconds)", "number", "2 to 3600 seconds."),
    ("unit", "Temperature unit", "unit", "For the page, the API and the CSV."),
    ("alarm", "Alarm above", "number", "A temperature, in the unit above."),
)


def settings_page(request, values, errors, saved=False):
    response = page(request, "settings.html", values=values, errors=errors, fields=SETTINGS_FIELDS,
                    saved=saved)
    if errors:
        response.status_code = 400
    return response


@app.get("/settings")
def settings_form(request):
    return settings_page(request, settings, {}, saved=request.args.get("saved") == "1")


@app.post("/settings")
def settings_save(request):
    form = request.form or {}
    values, errors = config.validate(form, settings)
    if errors:
        shown_values = dict(settings)
        for key in settings:
            if key in form:
                shown_values[key] = form[key]
        return settings_page(request, shown_values, errors)
    new = dict(settings)
    new.update(values)
    try:
        config.save(SETTINGS_FILE, new)
    except OSError as e:  # a full or read-only filesystem: the old file is still whole
        response = page(request, "settings.html", values=new, errors={}, fields=SETTINGS_FIELDS,
                        saved=False, failure="Not saved: the settings file cannot be written (%s)." % e)
        response.status_code = 500
        return response
    settings.update(new)
    settings_changed.set()
    return redirect("/settings?saved=1", 303)


# --- data for programs ------------------------------------------------------------------------

@app.get("/api/readings")
def api_readings(request):
    readings = [{"time": t + EPOCH_OFFSET, "temperature": shown(temp), "humidity": hum}
                for t, temp, hum in history.readings()]
    return {"unit": settings["unit"], "interval": settings["interval"], "readings": readings}


@app.get("/api/state")
def api_state(request):
    return {"name": settings["name"], "unit": settings["unit"], "interval": settings["interval"],
            "alarm": settings["alarm"], "relay": relay.value() == 1,
            "latest": reading_message(history.latest()), "simulated": SIMULATED,
            "sensor_errors": status["sensor_errors"], "subscribers": hub.count()}


@app.post("/api/relay")
def api_relay(request):
    # A page without a WebSocket switches the relay here (the X-CSRF-Token header is checked).
    if not command(request.body or b""):
        return {"error": 'send {"relay": true} or {"relay": false}'}, 400
    return relay_message()


@app.get("/history.csv")
def history_csv(request):
    unit = settings["unit"]
    rows = ["time (UTC),temperature (%s),humidity (%%)\r\n" % unit]
    for t, temperature, humidity in history.readings():
        rows.append("%s,%.1f,%.1f\r\n" % (timestamp(t), shown(temperature), humidity))
    return Response("".join(rows), headers={
        "Content-Type": "text/csv; charset=UTF-8",
        "Content-Disposition": 'attachment; filename="history.csv"'})


# --- live updates -----------------------------------------------------------------------------

def hello_messages():
    # What a page gets first: the state now, then the hub's news.
    reading = reading_message(history.latest())
    return ([("reading", reading)] if reading else []) + [("relay", relay_message())]


@app.get("/events")
@with_sse
async def events(request, sse):
    for topic, message in hello_messages():
        await sse.send(message, event=topic)
    await hub.stream(sse, "reading", "relay", latest=True)


def same_origin(request):
    # A WebSocket is not held to the same-origin policy: refuse pages of other sites.
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] == request.headers.get("Host")


@app.route("/ws")
@with_websocket(origin=same_origin, max_message=256)
async def live(request, ws):
    for _, message in hello_messages():
        await ws.send(json.dumps(message))
    news = asyncio.create_task(hub.stream(ws, "reading", "relay", latest=True))
    try:
        async for text in ws:
            if not command(text):
                await ws.send(json.dumps({"kind": "error", "message": "unknown command"}))
    finally:
        news.cancel()


app.static("/static", "static")
# Runs once the server's event loop does: app.run() below, `make run`, or the tests.
asyncio.create_task(sample())

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=80)
