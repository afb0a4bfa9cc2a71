"""A small HTTP/1.1 client for tests and benchmarks that shows exactly what went over the wire."""

import socket


class Conn:
    """One client connection; reads responses with Content-Length, chunked or close framing."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def request(self, path="/", method="GET", headers=(), body=b"", version="1.1"):
        head = "%s %s HTTP/%s\r\nHost: test\r\n" % (method, path, version)
        for name, value in headers:
            head += "%s: %s\r\n" % (name, value)
        if body:
            head += "Content-Length: %d\r\n" % len(body)
        self.send(head.encode() + b"\r\n" + body)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, head_only=False):
        """(status, headers with lower-case names, body, raw head)."""
        status_line = self._line()
        status = int(status_line.split()[1])
        headers = {}
        raw = [status_line]
        while True:
            line = self._line()
            raw.append(line)
            if not line:
                break
            name, value = line.split(b":", 1)
            headers.setdefault(name.decode().lower(), []).append(value.strip().decode())
        h = {k: v[0] if len(v) == 1 else v for k, v in headers.items()}
        if head_only or status in (100, 204, 304):
            return status, h, b"", b"\r\n".join(raw)
        if "content-length" in h:
            body = self._exactly(int(h["content-length"]))
        elif h.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    assert self._line() == b""
                    break
                body += self._exactly(size)
                assert self._exactly(2) == b"\r\n"
        else:
            body = self.read_to_close()
        return status, h, body, b"\r\n".join(raw)

    def read_to_close(self):
        data = self.buf
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def closed_by_server(self, timeout=5):
        """True when the server closes the connection within timeout (after any data)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()
