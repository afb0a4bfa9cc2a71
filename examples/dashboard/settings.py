# The dashboard's settings: read from a JSON file, checked field by field, written atomically
# (a temporary file renamed over the old one, so a reset or full flash mid-write leaves the
# previous settings whole).
import json
import os

DEFAULTS = {"name": "Greenhouse", "interval": 10, "unit": "C", "alarm": 30.0}
# a DHT22 gives a new reading at most every 2 s
LIMITS = {"interval": (2, 3600), "alarm": (-40.0, 176.0)}


def load(path, defaults=DEFAULTS):
    """The settings in ``path`` over ``defaults``; the defaults alone when it is missing or
    unreadable."""
    settings = dict(defaults)
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return settings
    if isinstance(saved, dict):
        values, errors = validate(saved, settings)
        if not errors:
            settings.update(values)
    return settings


def save(path, settings):
    """Write ``settings`` to ``path`` through ``path + '.tmp'`` and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(settings, f)
    os.rename(tmp, path)  # replaces path at once (unix, littlefs and FAT alike)


def _number(text, kind, low, high):
    try:
        value = kind(str(text).strip())
    except ValueError:
        return None, "Enter a number."
    if not low <= value <= high:
        return None, "Between %s and %s." % (low, high)
    return value, None


def validate(form, current):
    """(values, errors) for the submitted ``form`` (a dict-like of strings): values holds the
    accepted fields, errors a message per refused field."""
    values = {}
    errors = {}
    name = str(form.get("name", current["name"])).strip()
    if not 1 <= len(name) <= 32:
        errors["name"] = "1 to 32 characters."
    else:
        values["name"] = name
    unit = form.get("unit", current["unit"])
    if unit not in ("C", "F"):
        errors["unit"] = "Celsius or Fahrenheit."
    else:
        values["unit"] = unit
    for key, kind in (("interval", int), ("alarm", float)):
        value, error = _number(form.get(key, current[key]), kind, *LIMITS[key])
        if error:
            errors[key] = error
        else:
            values[key] = value
    return values, errors
