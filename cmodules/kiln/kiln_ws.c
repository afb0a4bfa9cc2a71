// WebSocket framing (RFC 6455 section 5) for the server side: see kiln_ws.h.
#include <string.h>
#include "kiln_ws.h"

// The UTF-8 check's state: continuation bytes still needed (low byte) and the range the next
// one must fall in (RFC 3629 section 4: the second byte's range rules out overlong forms,
// surrogates and code points above U+10FFFF).
#define U8_STATE(need, lo, hi) ((uint32_t)(need) | ((uint32_t)(lo) << 8) | ((uint32_t)(hi) << 16))

uint32_t kiln_ws_utf8(uint32_t state, const uint8_t *p, size_t n) {
    if (state == KILN_WS_UTF8_BAD) {
        return state;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (state) {
            if (b < ((state >> 8) & 0xff) || b > (state >> 16)) {
                return KILN_WS_UTF8_BAD;
            }
            state = (state & 0xff) == 1 ? 0 : U8_STATE((state & 0xff) - 1, 0x80, 0xbf);
        } else if (b < 0x80) {
            // ASCII: the common case, no state
        } else if (b >= 0xc2 && b <= 0xdf) {
            state = U8_STATE(1, 0x80, 0xbf);
        } else if (b >= 0xe0 && b <= 0xef) {
            state = U8_STATE(2, b == 0xe0 ? 0xa0 : 0x80, b == 0xed ? 0x9f : 0xbf);
        } else if (b >= 0xf0 && b <= 0xf4) {
            state = U8_STATE(3, b == 0xf0 ? 0x90 : 0x80, b == 0xf4 ? 0x8f : 0xbf);
        } else {
            return KILN_WS_UTF8_BAD;
        }
    }
    return state;
}

bool kiln_ws_close_code_ok(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}

unsigned kiln_ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], unsigned moff) {
    for (size_t i = 0; i < n; i++) {
        p[i] ^= mask[(moff + i) & 3];
    }
    return (moff + n) & 3;
}

size_t kiln_ws_header(uint8_t *out, unsigned opcode, bool fin, uint64_t len) {
    out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) {
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    }
    return 10;
}

static int fail(kiln_ws_reader_t *r, int code) {
    r->error = code;
    return -code;
}

// A whole control frame: payload[0..n) is unmasked already.
static int check_control(kiln_ws_reader_t *r, unsigned op, const uint8_t *payload, size_t n) {
    if (op == KILN_WS_CLOSE && n > 0) {
        if (n == 1 || !kiln_ws_close_code_ok((payload[0] << 8) | payload[1])) {
            return fail(r, KILN_WS_PROTOCOL_ERROR);
        }
        if (kiln_ws_utf8(0, payload + 2, n - 2) != 0) {
            return fail(r, KILN_WS_INVALID_DATA);
        }
    }
    return 0;
}

// Reads a frame header from buf[0..len): its length, 0 when more bytes are needed, or < 0.
static int read_header(kiln_ws_reader_t *r, const uint8_t *buf, size_t len, uint64_t *plen) {
    if (len < 2) {
        return 0;
    }
    uint8_t b0 = buf[0], b1 = buf[1];
    // RSV1-3 mean an extension, and none is ever negotiated; client frames must be masked.
    if ((b0 & 0x70) || !(b1 & 0x80)) {
        return fail(r, KILN_WS_PROTOCOL_ERROR);
    }
    size_t h = 2;
    uint64_t n = b1 & 0x7f;
    if (n == 126) {
        h = 4;
        if (len < h) {
            return 0;
        }
        n = ((uint64_t)buf[2] << 8) | buf[3];
    } else if (n == 127) {
        h = 10;
        if (len < h) {
            return 0;
        }
        if (buf[2] & 0x80) {
            return fail(r, KILN_WS_PROTOCOL_ERROR);
        }
        n = 0;
        for (int i = 2; i < 10; i++) {
            n = (n << 8) | buf[i];
        }
    }
    if (len < h + 4) {
        return 0;
    }
    memcpy(r->mask, buf + h, 4);
    r->opcode = b0 & 0x0f;
    r->fin = (b0 & 0x80) != 0;
    *plen = n;
    return (int)(h + 4);
}

int kiln_ws_read(kiln_ws_reader_t *r, uint8_t *buf, size_t len, size_t max_message,
    kiln_ws_piece_t *piece) {
    if (r->error) {
        return -r->error;
    }
    size_t used = 0;
    if (!r->in_frame) {
        uint64_t plen;
        int h = read_header(r, buf, len, &plen);
        if (h <= 0) {
            return h;
        }
        unsigned op = r->opcode;
        if (op >= KILN_WS_CLOSE) {
            if (op > KILN_WS_PONG || !r->fin || plen > 125) {
                return fail(r, KILN_WS_PROTOCOL_ERROR);
            }
            if (len < h + plen) {
                return 0;
            }
            kiln_ws_unmask(buf + h, (size_t)plen, r->mask, 0);
            int e = check_control(r, op, buf + h, (size_t)plen);
            if (e < 0) {
                return e;
            }
            piece->opcode = op;
            piece->end = true;
            piece->off = h;
            piece->len = (size_t)plen;
            return h + (int)plen;
        }
        if (op == KILN_WS_CONT) {
            if (!r->msg_op) {
                return fail(r, KILN_WS_PROTOCOL_ERROR);
            }
        } else if (op == KILN_WS_TEXT || op == KILN_WS_BINARY) {
            if (r->msg_op) {
                return fail(r, KILN_WS_PROTOCOL_ERROR);
            }
            r->msg_op = op;
            r->msg_len = 0;
            r->utf8 = 0;
        } else {
            return fail(r, KILN_WS_PROTOCOL_ERROR);
        }
        if (plen > max_message - r->msg_len) {
            return fail(r, KILN_WS_TOO_BIG);
        }
        r->msg_len += (size_t)plen;
        r->left = plen;
        r->moff = 0;
        r->in_frame = true;
        used = h;
    }
    size_t n = len - used;
    if (n > r->left) {
        n = (size_t)r->left;
    }
    r->moff = kiln_ws_unmask(buf + used, n, r->mask, r->moff);
    r->left -= n;
    bool end = r->left == 0 && r->fin;
    if (r->msg_op == KILN_WS_TEXT) {
        r->utf8 = kiln_ws_utf8(r->utf8, buf + used, n);
        if (r->utf8 == KILN_WS_UTF8_BAD || (end && r->utf8 != 0)) {
            return fail(r, KILN_WS_INVALID_DATA);
        }
    }
    piece->opcode = r->msg_op;
    piece->end = end;
    piece->off = used;
    piece->len = n;
    if (r->left == 0) {
        r->in_frame = false;
        if (end) {
            r->msg_op = 0;
        }
    }
    return (int)(used + n);
}
