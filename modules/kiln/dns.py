# The captive portal's DNS responder: every A query, for any name, is answered with the board's
# own address, so a phone that joins the set-up access point opens the set-up page whatever it
# looks up. Other query types get an empty answer (NOERROR, no records: "this name has no
# AAAA"), other opcodes NOTIMP, malformed questions FORMERR; what cannot be answered (shorter
# than a header, a response, over 512 bytes) is dropped. One datagram in, at most one out, no
# state kept between them.
import socket

#: Largest query answered (RFC 1035's UDP limit); larger datagrams are dropped.
max_query = 512
#: TTL of the answers (seconds): short, since the address is only right while in set-up mode.
ttl = 60

_FORMERR = 1
_NOTIMP = 4


def _reply(query, end, rcode, answers):
    # Header: the query's ID, QR=1, the query's opcode and RD, AA=1, RA=0; the question
    # (query[12:end]) copied back when there is one.
    flags = 0x8400 | ((query[2] & 0x79) << 8) | rcode
    qd = 1 if end > 12 else 0
    head = bytes((query[0], query[1], flags >> 8, flags & 0xFF, 0, qd, 0, answers, 0, 0, 0, 0))
    return head + query[12:end]


def answer(query, ip):
    """The reply (bytes) to the DNS ``query`` (bytes) for a server at ``ip`` (4 bytes), or
    None when the datagram is to be dropped."""
    n = len(query)
    if n < 12 or n > max_query or query[2] & 0x80:  # too short, too long, or a response
        return None
    if (query[2] >> 3) & 0x0F != 0:  # not a standard query
        return _reply(query, 12, _NOTIMP, 0)
    if query[4] != 0 or query[5] != 1:  # exactly one question
        return _reply(query, 12, _FORMERR, 0)
    i = 12
    total = 0
    while True:
        if i >= n:
            return _reply(query, 12, _FORMERR, 0)
        length = query[i]
        if length == 0:
            break
        if length > 63:  # a compression pointer or a reserved label type: not in a question
            return _reply(query, 12, _FORMERR, 0)
        total += length + 1
        i += length + 1
        if total > 254:
            return _reply(query, 12, _FORMERR, 0)
    end = i + 5
    if end > n:
        return _reply(query, 12, _FORMERR, 0)
    qtype = (query[i + 1] << 8) | query[i + 2]
    qclass = (query[i + 3] << 8) | query[i + 4]
    if qclass not in (1, 255) or qtype not in (1, 255):  # IN or ANY; A or ANY
        return _reply(query, end, 0, 0)
    # One A record; its name is a pointer to the question's (offset 12).
    return _reply(query, end, 0, 1) + b"\xc0\x0c\x00\x01\x00\x01" + ttl.to_bytes(4, "big") + b"\x00\x04" + ip


def _wait_readable(sock):
    # The asyncio idiom of extmod/asyncio/stream.py: wait on the IO queue for the socket.
    from asyncio import core

    yield core._io_queue.queue_read(sock)


class DNSServer:
    """Answers DNS queries on UDP ``port`` of ``host`` with ``ip`` (a dotted str) for every
    name: ``server = DNSServer(ip)``, then ``await server.serve()`` as an asyncio task;
    ``close()`` stops it."""

    def __init__(self, ip, host="0.0.0.0", port=53):
        self.ip = bytes(int(part) for part in ip.split("."))
        sock = self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo(host, port)[0][-1])
        sock.setblocking(False)

    def handle(self):
        """Answer one waiting datagram, if any."""
        try:
            query, addr = self.sock.recvfrom(max_query + 1)
        except OSError:
            return
        reply = answer(query, self.ip)
        if reply is not None:
            try:
                self.sock.sendto(reply, addr)
            except OSError:
                pass

    async def serve(self):
        while self.sock is not None:
            await _wait_readable(self.sock)
            if self.sock is not None:
                self.handle()

    def close(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()
