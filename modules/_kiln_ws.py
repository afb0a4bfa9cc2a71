# The pure-Python `_kiln`, part three (see _kiln.py): WebSocket framing (kiln_ws.c). The loop
# (_kiln_loop.py) imports it only when a connection is upgraded.

CLOSE = 8
_TEXT = 1
_PROTOCOL_ERROR = 1002
_INVALID_DATA = 1007
_TOO_BIG = 1009
_UTF8_BAD = -1


def utf8(state, data):
    # kiln_ws_utf8: (continuation bytes needed, lowest, highest allowed next byte) packed in an
    # int as in C; 0 when complete, _UTF8_BAD when the bytes cannot be UTF-8.
    if state == _UTF8_BAD:
        return state
    for b in data:
        if state:
            if b < (state >> 8) & 0xFF or b > state >> 16:
                return _UTF8_BAD
            state = 0 if state & 0xFF == 1 else (state & 0xFF) - 1 | 0x80 << 8 | 0xBF << 16
        elif b < 0x80:
            pass
        elif 0xC2 <= b <= 0xDF:
            state = 1 | 0x80 << 8 | 0xBF << 16
        elif 0xE0 <= b <= 0xEF:
            state = 2 | (0xA0 if b == 0xE0 else 0x80) << 8 | (0x9F if b == 0xED else 0xBF) << 16
        elif 0xF0 <= b <= 0xF4:
            state = 3 | (0x90 if b == 0xF0 else 0x80) << 8 | (0x8F if b == 0xF4 else 0xBF) << 16
        else:
            return _UTF8_BAD
    return state


def close_code_ok(code):
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def header(opcode, fin, n):
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        return bytes((b0, n))
    if n <= 0xFFFF:
        return bytes((b0, 126, n >> 8, n & 0xFF))
    return bytes((b0, 127)) + n.to_bytes(8, "big")


def _unmask(data, mask, moff):
    out = bytearray(data)
    for i in range(len(out)):
        out[i] ^= mask[(moff + i) & 3]
    return bytes(out)


class Reader:
    """kiln_ws_reader_t."""

    def __init__(self):
        self.left = self.msg_len = self.error = self.utf8 = self.moff = 0
        self.msg_op = self.opcode = 0
        self.mask = b""
        self.in_frame = self.fin = False

    def _fail(self, code):
        self.error = code
        return (-code, 0, False, b"")

    def _header(self, buf):
        # the header's length, 0 when more bytes are needed, or a failure tuple
        n = len(buf)
        if n < 2:
            return 0
        b0, b1 = buf[0], buf[1]
        if b0 & 0x70 or not b1 & 0x80:
            return self._fail(_PROTOCOL_ERROR)
        h = 2
        plen = b1 & 0x7F
        if plen == 126:
            h = 4
            if n < h:
                return 0
            plen = buf[2] << 8 | buf[3]
        elif plen == 127:
            h = 10
            if n < h:
                return 0
            if buf[2] & 0x80:
                return self._fail(_PROTOCOL_ERROR)
            plen = int.from_bytes(buf[2:10], "big")
        if n < h + 4:
            return 0
        self.mask = buf[h:h + 4]
        self.opcode = b0 & 0x0F
        self.fin = bool(b0 & 0x80)
        self.left = plen
        return h + 4

    def read(self, buf, max_message):
        """kiln_ws_read on buf: (used, opcode, end, payload); used 0 when more bytes are
        needed, < 0 (minus the close code) once failed."""
        if self.error:
            return (-self.error, 0, False, b"")
        used = 0
        if not self.in_frame:
            h = self._header(buf)
            if type(h) is tuple or h == 0:
                return h if h else (0, 0, False, b"")
            op = self.opcode
            plen = self.left
            if op >= CLOSE:
                if op > 0xA or not self.fin or plen > 125:
                    return self._fail(_PROTOCOL_ERROR)
                if len(buf) < h + plen:
                    return (0, 0, False, b"")
                data = _unmask(buf[h:h + plen], self.mask, 0)
                if op == CLOSE and plen:
                    if plen == 1 or not close_code_ok(data[0] << 8 | data[1]):
                        return self._fail(_PROTOCOL_ERROR)
                    if utf8(0, data[2:]) != 0:
                        return self._fail(_INVALID_DATA)
                return (h + plen, op, True, data)
            if op == 0:
                if not self.msg_op:
                    return self._fail(_PROTOCOL_ERROR)
            elif op in (1, 2):
                if self.msg_op:
                    return self._fail(_PROTOCOL_ERROR)
                self.msg_op = op
                self.msg_len = self.utf8 = 0
            else:
                return self._fail(_PROTOCOL_ERROR)
            if plen > max_message - self.msg_len:
                return self._fail(_TOO_BIG)
            self.msg_len += plen
            self.moff = 0
            self.in_frame = True
            used = h
        n = min(len(buf) - used, self.left)
        data = _unmask(buf[used:used + n], self.mask, self.moff)
        self.moff = (self.moff + n) & 3
        self.left -= n
        end = self.left == 0 and self.fin
        op = self.msg_op
        if op == _TEXT:
            self.utf8 = utf8(self.utf8, data)
            if self.utf8 == _UTF8_BAD or (end and self.utf8 != 0):
                return self._fail(_INVALID_DATA)
        if self.left == 0:
            self.in_frame = False
            if end:
                self.msg_op = 0
        return (used + n, op, end, data)


def sha1(data):
    """hashlib.sha1 for a port built without it (FIPS 180-4), for the opening handshake."""
    return _Sha1(data)


class _Sha1:
    def __init__(self, data):
        self._data = bytes(data)

    def digest(self):
        m = 0xFFFFFFFF
        h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        n = len(self._data)
        msg = self._data + b"\x80" + bytes((55 - n) % 64) + (n * 8).to_bytes(8, "big")
        for at in range(0, len(msg), 64):
            w = [int.from_bytes(msg[at + 4 * i:at + 4 * i + 4], "big") for i in range(16)]
            for i in range(16, 80):
                x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w.append((x << 1 | x >> 31) & m)
            a, b, c, d, e = h
            for i in range(80):
                if i < 20:
                    f, k = (b & c) | (~b & d), 0x5A827999
                elif i < 40:
                    f, k = b ^ c ^ d, 0x6ED9EBA1
                elif i < 60:
                    f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
                else:
                    f, k = b ^ c ^ d, 0xCA62C1D6
                t = ((a << 5 | a >> 27) + f + e + k + w[i]) & m
                a, b, c, d, e = t, a, (b << 30 | b >> 2) & m, c, d
            for i, x in enumerate((a, b, c, d, e)):
                h[i] = (h[i] + x) & m
        return b"".join(x.to_bytes(4, "big") for x in h)
