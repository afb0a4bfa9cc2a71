// Host unit tests of the WebSocket framing core (cmodules/kiln/kiln_ws.c). Every input is read
// whole, in pieces of every size from 1 byte, the way the loop does (a buffer it fills and
// drains), and must give the same messages and close codes each way. Built and run by
// `make test-c` (gcc and clang, -fsanitize=address,undefined).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kiln_ws.h"


// --- making client frames -----------------------------------------------------------------

static uint8_t wire[200000];
static size_t wire_len;

static const uint8_t mask_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

// Appends a frame: flags is the first byte (FIN, RSV, opcode); masked unless `unmasked`.
static void frame_ex(uint8_t b0, const void *payload, size_t n, int unmasked) {
    uint8_t *p = wire + wire_len;
    size_t h = kiln_ws_header(p, b0 & 0x0f, 0, n);
    p[0] = b0;
    if (!unmasked) {
        p[1] |= 0x80;
        memcpy(p + h, mask_key, 4);
        h += 4;
    }
    memcpy(p + h, payload, n);
    if (!unmasked) {
        kiln_ws_unmask(p + h, n, mask_key, 0);
    }
    wire_len += h + n;
}

static void frame(uint8_t b0, const char *payload) {
    frame_ex(b0, payload, strlen(payload), 0);
}

// --- reading as the loop does -------------------------------------------------------------

// Reads wire[0..wire_len) handing the reader `step` new bytes at a time into a buffer of
// `cap` bytes; describes what came out: "T<text>" or "B<hex>" per message, "P<hex>" for a ping,
// "O" pong, "C<code>" close, "E<code>" failure, "+" when input ran out mid-stream.
static void read_all(size_t step, size_t cap, size_t max_message, char *out, size_t out_size) {
    static uint8_t buf[1 << 18];
    static uint8_t msg[1 << 18];
    kiln_ws_reader_t r;
    memset(&r, 0, sizeof(r));
    size_t in = 0, pos = 0, len = 0, msg_len = 0, o = 0;
    out[0] = 0;
    for (;;) {
        kiln_ws_piece_t piece;
        int res = kiln_ws_read(&r, buf + pos, len - pos, max_message, &piece);
        if (res < 0) {
            o += snprintf(out + o, out_size - o, "E%d", -res);
            CHECK(kiln_ws_read(&r, buf + pos, len - pos, max_message, &piece) == res, "error sticks");
            return;
        }
        if (res == 0) {
            if (in == wire_len) {
                if (pos < len || r.in_frame || r.msg_op) {
                    o += snprintf(out + o, out_size - o, "+");
                }
                return;
            }
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            pos = 0;
            size_t n = wire_len - in < step ? wire_len - in : step;
            if (n > cap - len) {
                n = cap - len;
            }
            CHECK(n > 0, "buffer of %zu full with %zu bytes", cap, len);
            if (n == 0) {
                return;
            }
            memcpy(buf + len, wire + in, n);
            len += n;
            in += n;
            continue;
        }
        CHECK((size_t)res <= len - pos && piece.off + piece.len <= (size_t)res, "piece inside input");
        const uint8_t *p = buf + pos + piece.off;
        pos += res;
        if (piece.opcode >= KILN_WS_CLOSE) {
            if (piece.opcode == KILN_WS_PING) {
                o += snprintf(out + o, out_size - o, "P");
                for (size_t i = 0; i < piece.len; i++) {
                    o += snprintf(out + o, out_size - o, "%02x", p[i]);
                }
            } else if (piece.opcode == KILN_WS_PONG) {
                o += snprintf(out + o, out_size - o, "O");
            } else {
                o += snprintf(out + o, out_size - o, "C%d", piece.len ? (p[0] << 8) | p[1] : 1005);
            }
            continue;
        }
        memcpy(msg + msg_len, p, piece.len);
        msg_len += piece.len;
        if (piece.end) {
            if (piece.opcode == KILN_WS_TEXT) {
                o += snprintf(out + o, out_size - o, "T%.*s", (int)(msg_len > 40 ? 40 : msg_len), msg);
            } else {
                o += snprintf(out + o, out_size - o, "B");
                for (size_t i = 0; i < msg_len && i < 20; i++) {
                    o += snprintf(out + o, out_size - o, "%02x", msg[i]);
                }
            }
            if (msg_len > 40) {
                o += snprintf(out + o, out_size - o, "(%zu)", msg_len);
            }
            msg_len = 0;
        }
    }
}

// Checks that the frames in `wire` read as `expected` whole and in pieces of 1..17 bytes and a
// few larger sizes, with a loop-sized buffer.
static void expect(const char *name, const char *expected, size_t max_message) {
    static char got[4096];
    static const size_t steps[] = { 1000000, 1, 2, 3, 5, 7, 13, 17, 100, 512 };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        read_all(steps[i], 512, max_message, got, sizeof(got));
        CHECK(strcmp(got, expected) == 0, "%s (step %zu): got \"%s\", want \"%s\"", name, steps[i], got, expected);
    }
    wire_len = 0;
}

// --- tests -------------------------------------------------------------------------------

static void test_messages(void) {
    frame(0x81, "hello");
    expect("one text frame", "Thello", 1000);

    frame(0x82, "\x01\x02");
    expect("one binary frame", "B0102", 1000);

    frame(0x81, "");
    expect("empty text", "T", 1000);

    frame(0x01, "hel");
    frame(0x00, "");
    frame(0x80, "lo");
    expect("fragmented text", "Thello", 1000);

    frame(0x01, "a");
    frame(0x89, "xy");
    frame(0x80, "b");
    expect("ping between fragments", "P7879Tab", 1000);

    frame(0x81, "one");
    frame(0x82, "\xff");
    frame(0x8a, "");
    frame(0x88, "\x03\xe8" "bye");
    expect("messages then close", "ToneBffOC1000", 1000);

    frame(0x88, "");
    expect("close without a code", "C1005", 1000);

    // UTF-8 split inside a code point across fragments: U+20AC is e2 82 ac
    frame(0x01, "\xe2");
    frame(0x00, "\x82");
    frame(0x80, "\xac");
    expect("code point across fragments", "T\xe2\x82\xac", 1000);
}

static void test_lengths(void) {
    static uint8_t big[70000];
    static char want[64];
    static const size_t sizes[] = { 125, 126, 127, 65535, 65536, 69999 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(big, 'a' + (int)i, sizes[i]);
        frame_ex(0x82, big, sizes[i], 0);
        int n = snprintf(want, sizeof(want), "B");
        for (int k = 0; k < 20; k++) {
            n += snprintf(want + n, sizeof(want) - n, "%02x", 'a' + (int)i);
        }
        snprintf(want + n, sizeof(want) - n, "(%zu)", sizes[i]);
        expect("binary length", want, 70000);
    }
}

static void test_failures(void) {
    frame_ex(0x81, "hi", 2, 1);
    expect("unmasked frame", "E1002", 1000);

    frame(0xc1, "hi");
    expect("RSV1 without an extension", "E1002", 1000);

    frame(0x83, "");
    expect("reserved data opcode", "E1002", 1000);

    frame(0x8b, "");
    expect("reserved control opcode", "E1002", 1000);

    frame(0x80, "x");
    expect("continuation without a start", "E1002", 1000);

    frame(0x01, "a");
    frame(0x81, "b");
    expect("new message inside a fragmented one", "E1002", 1000);

    frame(0x09, "");
    expect("fragmented ping", "E1002", 1000);

    static char long_ping[127];
    memset(long_ping, 'p', 126);
    frame(0x89, long_ping);
    expect("ping over 125 bytes", "E1002", 1000);

    frame(0x81, "\xc0\xaf");
    expect("overlong UTF-8", "E1007", 1000);

    frame(0x81, "\xed\xa0\x80");
    expect("UTF-16 surrogate", "E1007", 1000);

    frame(0x81, "\xf4\x90\x80\x80");
    expect("above U+10FFFF", "E1007", 1000);

    frame(0x81, "ok\xe2\x82");
    expect("text ending inside a code point", "E1007", 1000);

    frame(0x81, "ok");
    frame(0x81, "\xff");
    expect("bad byte after a good message", "TokE1007", 1000);

    frame(0x88, "\x03");
    expect("close payload of one byte", "E1002", 1000);

    static const char *bad_codes[] = { "\x03\xe7", "\x03\xec", "\x03\xed", "\x03\xee", "\x03\xf7",
                                       "\x07\xd0", "\x13\x88" };
    for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
        frame(0x88, bad_codes[i]);
        expect("invalid close code", "E1002", 1000);
    }
    frame(0x88, "\x03\xe8\xff");
    expect("close reason not UTF-8", "E1007", 1000);

    frame(0x82, "0123456789");
    expect("message over max_message", "E1009", 9);

    frame(0x02, "01234");
    frame(0x80, "56789");
    expect("fragments over max_message", "E1009", 9);

    // only the header of a 1 GB frame: refused before any payload
    uint8_t head[14] = { 0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4 };
    memcpy(wire, head, sizeof(head));
    wire_len = sizeof(head);
    expect("huge frame header", "E1009", 16384);

    uint8_t top_bit[14] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
    memcpy(wire, top_bit, sizeof(top_bit));
    wire_len = sizeof(top_bit);
    expect("64-bit length with its top bit set", "E1002", 16384);
}

static void test_truncated(void) {
    frame(0x81, "hello");
    wire_len -= 2;
    expect("frame cut short", "+", 1000);

    frame(0x01, "he");
    expect("message without its last fragment", "+", 1000);
}

static void test_utf8(void) {
    static const struct { const char *s; int ok; } cases[] = {
        { "plain", 1 }, { "\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 }, { "\xf0\x9f\x98\x80", 1 },
        { "\xef\xbf\xbf", 1 }, { "\xf4\x8f\xbf\xbf", 1 }, { "\xed\x9f\xbf", 1 },
        { "\x80", 0 }, { "\xc1\xbf", 0 }, { "\xe0\x9f\xbf", 0 }, { "\xf0\x8f\xbf\xbf", 0 },
        { "\xf5\x80\x80\x80", 0 }, { "\xfe", 0 }, { "\xc3\x28", 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].s;
        uint32_t st = kiln_ws_utf8(0, (const uint8_t *)s, strlen(s));
        CHECK((st == 0) == cases[i].ok, "utf8 case %zu", i);
        // byte by byte gives the same answer
        st = 0;
        for (size_t k = 0; s[k]; k++) {
            st = kiln_ws_utf8(st, (const uint8_t *)s + k, 1);
        }
        CHECK((st == 0) == cases[i].ok, "utf8 case %zu byte by byte", i);
    }
}

static void test_header(void) {
    static const struct { uint64_t len; size_t size; } cases[] = {
        { 0, 2 }, { 125, 2 }, { 126, 4 }, { 65535, 4 }, { 65536, 10 }, { 1ull << 32, 10 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t h[KILN_WS_MAX_HEADER];
        size_t n = kiln_ws_header(h, KILN_WS_BINARY, 1, cases[i].len);
        CHECK(n == cases[i].size && h[0] == 0x82 && !(h[1] & 0x80), "header for %llu",
            (unsigned long long)cases[i].len);
        uint64_t got = h[1] & 0x7f;
        if (n == 4) {
            got = (h[2] << 8) | h[3];
        } else if (n == 10) {
            got = 0;
            for (int k = 2; k < 10; k++) {
                got = (got << 8) | h[k];
            }
        }
        CHECK(got == cases[i].len, "length round trip %llu", (unsigned long long)cases[i].len);
    }
    uint8_t h[KILN_WS_MAX_HEADER];
    kiln_ws_header(h, KILN_WS_TEXT, 0, 1);
    CHECK(h[0] == 0x01, "a frame without FIN");
}

static void test_close_codes(void) {
    CHECK(kiln_ws_close_code_ok(1000) && kiln_ws_close_code_ok(1011) && kiln_ws_close_code_ok(1014)
        && kiln_ws_close_code_ok(3000)
        && kiln_ws_close_code_ok(4999), "valid close codes");
    CHECK(!kiln_ws_close_code_ok(1004) && !kiln_ws_close_code_ok(1005) && !kiln_ws_close_code_ok(1006)
        && !kiln_ws_close_code_ok(1015) && !kiln_ws_close_code_ok(2999)
        && !kiln_ws_close_code_ok(5000), "codes a peer may not send");
}

int main(void) {
    test_messages();
    test_lengths();
    test_failures();
    test_truncated();
    test_utf8();
    test_header();
    test_close_codes();
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "OK", checks, failures);
    return failures != 0;
}
