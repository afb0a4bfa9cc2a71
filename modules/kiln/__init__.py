"""Kiln: a small, fast web framework baked into MicroPython firmware."""

__version__ = "0.1.0"
