# The requests the parser benchmark parses, shared by the host bench (written to files by
# bench/parser.py) and the firmware bench (imported by fwbench.py). Runs on MicroPython too.

SMALL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

BROWSER = (
    b"GET /dashboard/settings?tab=network&lang=en HTTP/1.1\r\n"
    b"Host: 192.168.4.1\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e; theme=dark\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Cache-Control: max-age=0\r\n"
    b"Referer: http://192.168.4.1/dashboard\r\n\r\n"
)


def _many_headers(n):
    lines = [b"GET /api/v1/items/42?fields=name,price HTTP/1.1\r\n", b"Host: 10.0.0.7:8080\r\n"]
    for i in range(n - 1):
        lines.append(b"X-Custom-Header-%d: value-%d-abcdefghijklmnopqrstuvwxyz\r\n" % (i, i))
    lines.append(b"\r\n")
    return b"".join(lines)


MANY = _many_headers(40)

# (name, request, header count)
REQUESTS = [
    ("small", SMALL, 1),
    ("browser", BROWSER, 10),
    ("40 headers", MANY, 40),
]
