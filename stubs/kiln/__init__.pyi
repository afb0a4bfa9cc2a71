"""Kiln: a small, fast web framework baked into MicroPython firmware."""

from kiln.app import App as App
from kiln.app import url_for as url_for
from kiln.request import Request as Request
from kiln.response import HTTPException as HTTPException
from kiln.response import Response as Response
from kiln.response import abort as abort
from kiln.response import redirect as redirect
from kiln.routing import URLPattern as URLPattern
from kiln.static import send_file as send_file
from kiln.template import render_template as render_template

__version__: str
