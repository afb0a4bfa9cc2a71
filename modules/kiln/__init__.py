"""Kiln: a small, fast web framework baked into MicroPython firmware."""

from kiln.app import App, url_for
from kiln.request import Request
from kiln.response import HTTPException, Response, abort, redirect
from kiln.routing import URLPattern

__version__ = "0.1.0"


def send_file(filename, status_code=200, content_type=None, max_age=None, **options):
    """A Response streaming a file, with MIME type, ETag, Last-Modified, Range and ``.gz``
    support (see kiln.static.send_file)."""
    from kiln.static import send_file as _send_file

    return _send_file(filename, status_code, content_type, max_age, **options)


def render_template(name, **context):
    """Render a template of the app (see kiln.template) into a streaming text/html Response."""
    from kiln.template import render_template as _render_template

    return _render_template(name, **context)


__all__ = ("App", "Request", "Response", "HTTPException", "URLPattern", "abort", "redirect",
           "send_file", "url_for", "render_template")
