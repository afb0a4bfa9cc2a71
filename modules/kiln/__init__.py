"""Kiln: a small, fast web framework baked into MicroPython firmware.

`from kiln import App` (and the other public names below) imports the module that defines the
name on first use, so `import kiln.server` alone, or an app that never touches templates or
static files, pays only for what it uses.
"""

__version__ = "0.1.0"

_WHERE = {
    "App": "app",
    "url_for": "app",
    "Request": "request",
    "Response": "response",
    "HTTPException": "response",
    "abort": "response",
    "redirect": "response",
    "URLPattern": "routing",
    "send_file": "static",
    "render_template": "template",
}

# The package's modules: `kiln.server` before any import of it works too.
_MODULES = (
    "app", "auth", "cors", "csrf", "multipart", "request", "response", "routing", "server",
    "session", "sse", "static", "template", "template_compiler", "template_filters", "testing",
    "text",
)


def __getattr__(name):
    # AttributeError for a name that is neither: hasattr(kiln, name) and dir(kiln) ask for many.
    module = _WHERE.get(name)
    if module is None:
        if name not in _MODULES:
            raise AttributeError(name)
        __import__("kiln." + name)
        return globals()[name]
    value = getattr(__import__("kiln." + module, None, None, (name,)), name)
    globals()[name] = value
    return value
