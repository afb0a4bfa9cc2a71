// libFuzzer target for the C parser core. The first two input bytes choose split points, the
// rest is a request. It checks that the head parser gives the same answer whole, split in two
// and fed byte by byte, that every view stays inside the head, that its line ends are all CRLF
// or (when allowed) all bare LF, that the chunked decoder gives
// the same body whole and split, and runs percent decoding and query iteration on the target.
// Built by `make fuzz` / `make test-c` with clang -fsanitize=fuzzer,address,undefined.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_http.h"

#define REQUIRE(c) do { if (!(c)) { __builtin_trap(); } } while (0)

static kiln_http_limits_t limits;

static int parse(kiln_http_request_t *r, const uint8_t *d, size_t n, kiln_http_header_t *h) {
    // An exactly sized copy: ASan reports any read past n.
    char *copy = malloc(n ? n : 1);
    memcpy(copy, d, n);
    int res = kiln_http_parse_request(r, copy, n, h, KILN_HTTP_MAX_HEADERS, &limits);
    free(copy);
    return res;
}

static void check_views(const kiln_http_request_t *r, const kiln_http_header_t *h, int head) {
    REQUIRE(r->method_off + r->method_len <= head);
    REQUIRE(r->target_off + r->target_len <= head);
    REQUIRE(r->path_off + r->path_len <= head);
    REQUIRE(r->query_off + r->query_len <= head);
    REQUIRE(r->upgrade_off + r->upgrade_len <= head);
    REQUIRE(r->num_headers <= KILN_HTTP_MAX_HEADERS);
    for (unsigned i = 0; i < r->num_headers; i++) {
        REQUIRE(h[i].name_off + h[i].name_len <= head && h[i].name_len > 0);
        REQUIRE(h[i].value_off + h[i].value_len <= head);
    }
}

// Decodes d[0..n) as a chunked body whole, and in two pieces split at `split`; both must agree.
static void check_chunked(const uint8_t *d, size_t n, size_t split) {
    char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
    memcpy(a, d, n);
    memcpy(b, d, n);
    kiln_http_chunked_t da = {0}, db = {0};
    size_t la = n;
    int ra = kiln_http_decode_chunked(&da, a, &la, &limits);
    REQUIRE(la <= n);
    size_t l1 = split, out = 0;
    int rb = kiln_http_decode_chunked(&db, b, &l1, &limits);
    REQUIRE(l1 <= split);
    out = l1;
    if (rb == KILN_HTTP_INCOMPLETE) {
        // The second piece is decoded where it lies, then appended to the first piece's output.
        size_t l2 = n - split;
        rb = kiln_http_decode_chunked(&db, b + split, &l2, &limits);
        REQUIRE(l2 <= n - split);
        memmove(b + out, b + split, l2 + (rb > 0 ? rb : 0));
        out += l2;
    } else if (rb >= 0) {
        // Ended inside the first piece: the second piece follows the first one's leftovers.
        memmove(b + out + rb, b + split, n - split);
        rb += (int)(n - split);
    }
    REQUIRE(ra == rb);
    if (ra >= 0 || ra == KILN_HTTP_INCOMPLETE) {
        REQUIRE(la == out && memcmp(a, b, la) == 0);
    }
    if (ra > 0) {
        REQUIRE(memcmp(a + la, d + n - ra, ra) == 0 && memcmp(b + out, d + n - ra, ra) == 0);
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    limits = kiln_http_default_limits;
    limits.allow = data[0] & 15; // some inputs allow custom methods, CONNECT, TRACE, bare LF
    limits.max_body = 1 << 20;
    const uint8_t *d = data + 2;
    size_t n = size - 2;
    size_t split = n ? data[1] % (n + 1) : 0;

    static kiln_http_header_t h1[KILN_HTTP_MAX_HEADERS], h2[KILN_HTTP_MAX_HEADERS];
    kiln_http_request_t r1, r2;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    int whole = parse(&r1, d, n, h1);
    int a = parse(&r2, d, split, h2);
    int b = a == KILN_HTTP_INCOMPLETE ? parse(&r2, d, n, h2) : a;
    REQUIRE(whole == b);
    REQUIRE(whole == KILN_HTTP_INCOMPLETE || whole > 0 || whole == -400 || whole == -413
        || whole == -414 || whole == -431 || whole == -501 || whole == -505);
    if (n < 600) {
        kiln_http_request_t r3;
        memset(&r3, 0, sizeof(r3));
        int res = KILN_HTTP_INCOMPLETE;
        for (size_t k = 1; k <= n && res == KILN_HTTP_INCOMPLETE; k++) {
            res = parse(&r3, d, k, h2);
        }
        REQUIRE(res == whole);
    }
    if (whole > 0) {
        check_views(&r1, h1, whole);
        // Line ends: never a bare LF unless allowed, never both kinds in one head.
        int crlf = 0, bare = 0;
        for (int k = 0; k < whole; k++) {
            if (d[k] == '\n') {
                *(k > 0 && d[k - 1] == '\r' ? &crlf : &bare) = 1;
            }
        }
        REQUIRE(!(crlf && bare) && (!bare || (limits.allow & KILN_HTTP_ALLOW_BARE_LF)));
        // Same public fields and header views, however the bytes arrived.
        REQUIRE(memcmp(&r1, &r2, offsetof(kiln_http_request_t, s_pos)) == 0);
        REQUIRE(memcmp(h1, h2, r1.num_headers * sizeof(h1[0])) == 0);
        // Percent-decode the path and walk the query, in copies of their exact size.
        char *path = malloc(r1.path_len + 1);
        memcpy(path, d + r1.path_off, r1.path_len);
        size_t m = kiln_http_url_decode(path, path, r1.path_len, 0);
        REQUIRE(m <= r1.path_len);
        free(path);
        char *qs = malloc(r1.query_len + 1);
        memcpy(qs, d + r1.query_off, r1.query_len);
        size_t pos = 0, pairs = 0;
        kiln_http_span_t name, value;
        while (kiln_http_query_next(qs, r1.query_len, &pos, &name, &value)) {
            REQUIRE(name.off + name.len <= r1.query_len && value.off + value.len <= r1.query_len);
            char tmp[4096];
            kiln_http_url_decode(tmp, qs + value.off, value.len, 1);
            REQUIRE(++pairs <= r1.query_len);
        }
        free(qs);
        for (unsigned i = 0; i < r1.num_headers; i++) {
            int j = kiln_http_find_header((const char *)d, h1, r1.num_headers, 0,
                (const char *)d + h1[i].name_off, h1[i].name_len);
            REQUIRE(j >= 0 && (unsigned)j <= i);
        }
        // The rest of the input as a chunked body.
        size_t rest = n - whole;
        check_chunked(d + whole, rest, rest ? data[1] % (rest + 1) : 0);
    } else {
        // Inputs that are not a request still exercise the decoder.
        check_chunked(d, n, split);
    }
    return 0;
}
