"""The set-up portal's DNS responder: every A query, for any name, is answered with the board's
own address. Other query types get an empty answer, other opcodes NOTIMP, malformed questions
FORMERR; what cannot be answered (shorter than a header, a response, over 512 bytes) is dropped."""

import socket

max_query: int
"""Largest query answered (RFC 1035's UDP limit, 512); larger datagrams are dropped."""
ttl: int
"""TTL of the answers (seconds, 60): short, since the address is only right in set-up mode."""

def answer(query: bytes, ip: bytes) -> bytes | None:
    """The reply to the DNS `query` for a server at `ip` (4 bytes), or None when the datagram
    is to be dropped."""

class DNSServer:
    """Answers DNS queries on UDP `port` of `host` with `ip` (a dotted str) for every name:
    `server = DNSServer(ip)`, then `await server.serve()` as an asyncio task; `close()` stops it."""

    ip: bytes
    sock: socket.socket | None
    def __init__(self, ip: str, host: str = "0.0.0.0", port: int = 53) -> None: ...
    def handle(self) -> None:
        """Answer one waiting datagram, if any."""
    async def serve(self) -> None:
        """Answer queries until `close()`."""
    def close(self) -> None:
        """Close the socket: `serve` returns."""
