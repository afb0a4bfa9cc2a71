// libFuzzer target for the WebSocket framing core (cmodules/kiln/kiln_ws.c). The first input
// byte chooses how many bytes the reader gets at a time, the second max_message; the rest is a
// client's byte stream. Read whole and in pieces (the loop's way: a buffer it fills and drains),
// it must give the same pieces of payload and the same close code, every piece inside the
// bytes read, and text messages that end must be valid UTF-8.
// Built by `make fuzz-ws` / `make test-c` with clang -fsanitize=fuzzer,address,undefined.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_ws.h"

#define REQUIRE(c) do { if (!(c)) { __builtin_trap(); } } while (0)

typedef struct {
    uint8_t data[8192];     // payload of data messages, then control payloads, concatenated
    size_t len;
    uint32_t digest;        // opcodes and message ends, in order
    int error;
} result_t;

static void read_stream(const uint8_t *in, size_t n, size_t step, size_t max, result_t *out) {
    uint8_t buf[300];
    kiln_ws_reader_t r;
    memset(&r, 0, sizeof(r));
    memset(out, 0, sizeof(*out));
    size_t used = 0, pos = 0, len = 0;
    uint32_t utf8 = 0;
    static uint8_t part[8192], ctrl[128];
    size_t part_len = 0, ctrl_len = 0;
    for (;;) {
        kiln_ws_piece_t p;
        int res = kiln_ws_read(&r, buf + pos, len - pos, max, &p);
        if (res < 0) {
            out->error = -res;
            return;
        }
        if (res == 0) {
            if (used == n) {
                return;
            }
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            pos = 0;
            size_t k = n - used < step ? n - used : step;
            if (k > sizeof(buf) - len) {
                k = sizeof(buf) - len;
            }
            REQUIRE(k > 0);
            memcpy(buf + len, in + used, k);
            len += k;
            used += k;
            continue;
        }
        REQUIRE(p.off + p.len <= (size_t)res && (size_t)res <= len - pos);
        const uint8_t *d = buf + pos + p.off;
        if (p.opcode == KILN_WS_TEXT) {
            utf8 = kiln_ws_utf8(utf8, d, p.len);
            REQUIRE(utf8 != KILN_WS_UTF8_BAD);
            if (p.end) {
                REQUIRE(utf8 == 0);
            }
        }
        if (p.end && p.opcode < KILN_WS_CLOSE) {
            utf8 = 0;
        }
        // How a message is cut into pieces depends on the reads, and a message that fails
        // midway was handed out up to a point that depends on them too: only whole messages
        // count.
        uint8_t *msg = p.opcode >= KILN_WS_CLOSE ? ctrl : part;
        size_t *have = p.opcode >= KILN_WS_CLOSE ? &ctrl_len : &part_len;
        if (*have + p.len <= sizeof(part)) {
            memcpy(msg + *have, d, p.len);
        }
        *have += p.len;
        if (p.end) {
            if (out->len + *have <= sizeof(out->data)) {
                memcpy(out->data + out->len, msg, *have);
            }
            out->len += *have;
            *have = 0;
            out->digest = out->digest * 31 + p.opcode;
        }
        pos += res;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    size_t step = 1 + data[0] % 64;
    size_t max = (size_t)data[1] * 64;
    data += 2;
    size -= 2;
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    static result_t whole, pieces;
    read_stream(copy, size, 1 << 20, max, &whole);
    read_stream(copy, size, step, max, &pieces);
    free(copy);
    size_t cmp = whole.len < sizeof(whole.data) ? whole.len : sizeof(whole.data);
    REQUIRE(whole.error == pieces.error && whole.digest == pieces.digest && whole.len == pieces.len);
    REQUIRE(memcmp(whole.data, pieces.data, cmp) == 0);
    return 0;
}
