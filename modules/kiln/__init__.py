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


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        # A submodule not imported yet (`kiln.server`), else AttributeError: hasattr(kiln, x)
        # and dir(kiln) ask for many names. The names are one constant: no heap (a 16 KB heap
        # serves with little to spare).
        if " %s " % name not in (" app auth cors csrf multipart request response routing server"
                                  " session sse static template template_compiler"
                                  " template_filters testing text "):
            raise AttributeError(name)
        __import__("kiln." + name)
        return globals()[name]
    value = getattr(__import__("kiln." + module, None, None, (name,)), name)
    globals()[name] = value
    return value
