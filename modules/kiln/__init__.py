"""Kiln: a small, fast web framework baked into MicroPython firmware.

`from kiln import App` (and the other public names below) imports the module that defines the
name on first use, so `import kiln.server` alone, or an app that never touches templates or
static files, pays only for what it uses.
"""

__version__ = "0.1.0"

# The public names, each with its module. A constant string, not a dict: it takes no heap, and
# a 16 KB heap serves with little to spare (tests/test_server_loop.py).
_WHERE = (" App:app url_for:app Request:request Response:response HTTPException:response"
          " abort:response redirect:response URLPattern:routing send_file:static"
          " render_template:template ")


def __getattr__(name):
    at = _WHERE.find(" %s:" % name)
    if at < 0:
        # A module of the package not imported yet (`kiln.server`), else AttributeError:
        # hasattr(kiln, x) and dir(kiln) ask for many names.
        if " %s " % name not in (" app auth client cors csrf dns fwota hub mqtt multipart net ota outbox portal request"
                                  " response routing server session slots sse static template"
                                  " template_compiler template_filters testing text tls websocket "):
            raise AttributeError(name)
        try:
            module = __import__("kiln." + name, None, None, (name,))
        except ImportError:  # not on this board (kiln.fwota needs esp32), or its own import fails
            raise AttributeError(name) from None
        globals()[name] = module
        return module
    at += len(name) + 2
    module = _WHERE[at:_WHERE.find(" ", at)]
    value = getattr(__import__("kiln." + module, None, None, (name,)), name)
    globals()[name] = value
    return value
