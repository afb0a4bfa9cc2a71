from typing import Any

max_query: int
ttl: int

def answer(query: bytes, ip: bytes) -> bytes | None:
    """The reply to the DNS `query` for a server at `ip` (4 bytes), or None."""

class DNSServer:
    """Answers every DNS name with `ip` on UDP `port` of `host`; `await serve()`, `close()`."""

    ip: bytes
    sock: Any
    def __init__(self, ip: str, host: str = "0.0.0.0", port: int = 53) -> None: ...
    def handle(self) -> None: ...
    async def serve(self) -> None: ...
    def close(self) -> None: ...
