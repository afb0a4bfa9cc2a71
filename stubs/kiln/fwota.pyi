from typing import Any

from kiln.request import Request

async def receive(request: Request, st: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Stream a firmware image into the next OTA partition, verify it, set it to boot."""
