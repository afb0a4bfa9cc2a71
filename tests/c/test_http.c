// Host unit tests of the C parser core (cmodules/kiln/kiln_http.c). Table-driven: every case is
// parsed whole, split at every point, and fed one byte at a time, each input copied so that it
// ends right before a PROT_NONE page (an over-read crashes). Built and run by `make test-c`
// (gcc and clang, -fsanitize=address,undefined).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "kiln_http.h"


// --- guard page ---------------------------------------------------------------------------

static char *arena;
static size_t arena_size;

static void guard_init(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    arena_size = 64 * 1024;
    char *m = mmap(NULL, arena_size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + arena_size, page, PROT_NONE) != 0) {
        perror("mmap");
        exit(2);
    }
    arena = m;
}

// Copies data[0..n) so that it ends at the guard page; returns where it starts.
static char *at_guard(const char *data, size_t n) {
    char *p = arena + arena_size - n;
    memcpy(p, data, n);
    return p;
}

// --- describing a parsed head -------------------------------------------------------------

static const kiln_http_limits_t *limits;
static kiln_http_header_t headers[KILN_HTTP_MAX_HEADERS];
static size_t max_headers = KILN_HTTP_MAX_HEADERS;

// "METHOD path ?query 1.x flags [cl=N] [up=X] [h=N] [Name=value;...]" for a parsed head.
static void describe(char *out, size_t size, const kiln_http_request_t *r, const char *buf, int full) {
    int n = snprintf(out, size, "%.*s %.*s", r->method_len, buf + r->method_off, r->path_len, buf + r->path_off);
    if (r->flags & KILN_HTTP_F_QUERY) {
        n += snprintf(out + n, size - n, " ?%.*s", r->query_len, buf + r->query_off);
    }
    n += snprintf(out + n, size - n, " 1.%d ", r->minor_version);
    static const char letters[] = "KLCEUQ";
    for (int i = 0; i < 6; i++) {
        if (r->flags & (1 << i)) {
            out[n++] = letters[i];
        }
    }
    out[n] = 0;
    if (r->flags & KILN_HTTP_F_CONTENT_LENGTH) {
        n += snprintf(out + n, size - n, " cl=%u", (unsigned)r->content_length);
    }
    if (r->flags & KILN_HTTP_F_UPGRADE) {
        n += snprintf(out + n, size - n, " up=%.*s", r->upgrade_len, buf + r->upgrade_off);
    }
    n += snprintf(out + n, size - n, " h=%u", r->num_headers);
    if (full) {
        for (unsigned i = 0; i < r->num_headers; i++) {
            const kiln_http_header_t *h = &headers[i];
            n += snprintf(out + n, size - n, " %.*s=%.*s;", h->name_len, buf + h->name_off,
                h->value_len, buf + h->value_off);
        }
    }
}

// Parses data[0..n) whole, then at every split, then byte by byte; all must agree.
// Returns the whole-parse result and fills desc when complete.
static int parse_all_ways(const char *data, size_t n, char *desc, size_t desc_size, int full) {
    kiln_http_request_t r = {0};
    int whole = kiln_http_parse_request(&r, at_guard(data, n), n, headers, max_headers, limits);
    if (whole > 0) {
        describe(desc, desc_size, &r, at_guard(data, n), full);
    }
    char other[2048];
    for (size_t split = 0; split <= n; split++) {
        kiln_http_request_t s = {0};
        int a = kiln_http_parse_request(&s, at_guard(data, split), split, headers, max_headers, limits);
        int b = a;
        if (a == KILN_HTTP_INCOMPLETE) {
            b = kiln_http_parse_request(&s, at_guard(data, n), n, headers, max_headers, limits);
        }
        // An error may be found in the first part; it must be the same error.
        CHECK(b == whole, "split %zu of %.40s: %d then %d, whole %d", split, data, a, b, whole);
        if (b > 0 && whole > 0) {
            describe(other, sizeof(other), &s, at_guard(data, n), full);
            CHECK(strcmp(other, desc) == 0, "split %zu: %s vs %s", split, other, desc);
        }
    }
    kiln_http_request_t s = {0};
    int res = KILN_HTTP_INCOMPLETE;
    size_t fed = 0;
    while (res == KILN_HTTP_INCOMPLETE && fed < n) {
        fed++;
        res = kiln_http_parse_request(&s, at_guard(data, fed), fed, headers, max_headers, limits);
    }
    CHECK(res == whole, "bytewise %.40s: %d (after %zu bytes), whole %d", data, res, fed, whole);
    if (res > 0 && whole > 0) {
        CHECK((size_t)res == fed, "bytewise: complete after %zu bytes, head %d", fed, res);
        describe(other, sizeof(other), &s, at_guard(data, n), full);
        CHECK(strcmp(other, desc) == 0, "bytewise: %s vs %s", other, desc);
    }
    return whole;
}

// --- valid requests -----------------------------------------------------------------------

typedef struct {
    const char *raw;
    const char *expect; // describe() of the head; head length is the whole input
} valid_case_t;

static const valid_case_t valid_cases[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / 1.1 K h=1"},
    {"GET / HTTP/1.0\r\n\r\n", "GET / 1.0  h=0"},
    {"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / 1.1 K h=1"},
    {"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD /x 1.1 K h=1"},
    {"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", "POST /f 1.1 KL cl=5 h=2"},
    {"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "PUT /f 1.1 KL cl=0 h=2"},
    {"DELETE /f HTTP/1.1\r\nHost: a\r\n\r\n", "DELETE /f 1.1 K h=1"},
    {"PATCH /f HTTP/1.1\r\nHost: a\r\n\r\n", "PATCH /f 1.1 K h=1"},
    {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * 1.1 K h=1"},
    {"OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS /x 1.1 K h=1"},
    {"GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a/b ?x=1&y=2 1.1 KQ h=1"},
    {"GET /a? HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a ? 1.1 KQ h=1"},
    {"GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n", "GET /a ?b?c 1.1 KQ h=1"},
    {"GET /%7Euser/a%20b HTTP/1.1\r\nHost: a\r\n\r\n", "GET /%7Euser/a%20b 1.1 K h=1"},
    {"GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET /p ?q 1.1 KQ h=1"},
    {"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET  1.1 K h=1"},
    {"GET https://example.com:8443?z HTTP/1.1\r\nHost: x\r\n\r\n", "GET  ?z 1.1 KQ h=1"},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET / 1.1  h=2"},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", "GET / 1.1  h=2"},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET / 1.0 K h=1"},
    {"GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n", "GET / 1.0  h=1"},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET / 1.1 K h=1"},
    {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "GET / 1.1 KC h=2"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n", "POST / 1.1 KC h=2"},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,\r\n\r\n", "POST / 1.1 KC h=2"},
    {"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
     "POST / 1.1 KLE cl=3 h=3"},
    {"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", "POST / 1.0 L cl=3 h=2"},
    {"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
     "GET /ws 1.1 KU up=websocket h=3"},
    {"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", "GET /ws 1.1 K h=2"},
    {"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", "GET /ws 1.0  h=2"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", "POST / 1.1 KL cl=7 h=3"},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n", "POST / 1.1 KL cl=7 h=2"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Sp:   \r\n\r\n", "GET / 1.1 K h=3"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: \t v a l \t \r\n\r\n", "GET / 1.1 K h=2"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \x80\xff\r\n\r\n", "GET / 1.1 K h=2"},
    {"GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n", "GET / 1.1 K h=2"},
    {"GET /\"<>{}|\\^`[] HTTP/1.1\r\nHost: a\r\n\r\n", "GET /\"<>{}|\\^`[] 1.1 K h=1"},
    {"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "GET / 1.1 K h=1"},
    {"GET / HTTP/1.1\r\nHost: my-host_1.example~%41!$&'()*+;=:8080\r\n\r\n", "GET / 1.1 K h=1"},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET / 1.1 K h=1"},
};

// Bare LF line ends, accepted only with KILN_HTTP_ALLOW_BARE_LF (refused with 400 otherwise).
static const valid_case_t bare_lf_cases[] = {
    {"GET / HTTP/1.1\nHost: a\n\n", "GET / 1.1 K h=1"},
    {"\n\nGET / HTTP/1.1\nHost: a\n\n", "GET / 1.1 K h=1"},
    {"GET / HTTP/1.0\n\n", "GET / 1.0  h=0"},
    {"POST / HTTP/1.1\nHost: a\nContent-Length: 2\nX: \t\n\n", "POST / 1.1 KL cl=2 h=3"},
};

// Header sections that mix bare LF with CRLF: 400 whether bare LF is allowed or not. The first
// is the smuggling shape: a proxy that splits only on CRLF sees one field "Dummy".
static const char *const mixed_lf_cases[] = {
    "POST / HTTP/1.1\r\nHost: a\r\nDummy: x\nContent-Length: 23\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\n",
    "GET / HTTP/1.1\nHost: a\r\n\n",
    "GET / HTTP/1.1\nHost: a\n\r\n",
    "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\r\nGET / HTTP/1.1\nHost: a\n\n",
};

// Header views, trimmed values, order and case kept.
static const valid_case_t header_cases[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\nX-A:1\r\nx-a:  2  \r\nCookie: a=b; c=d\r\n\r\n",
     "GET / 1.1 K h=4 Host=a; X-A=1; x-a=2; Cookie=a=b; c=d;"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\nY:\t\r\n\r\n", "GET / 1.1 K h=3 Host=a; X=a\tb; Y=;"},
};

static void test_valid(void) {
    char desc[2048];
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case_t *c = &valid_cases[i];
        size_t n = strlen(c->raw);
        int r = parse_all_ways(c->raw, n, desc, sizeof(desc), 0);
        CHECK(r == (int)n, "valid %zu (%.40s): %d, want %zu", i, c->raw, r, n);
        if (r > 0) {
            CHECK(strcmp(desc, c->expect) == 0, "valid %zu: got [%s] want [%s]", i, desc, c->expect);
        }
    }
    for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
        const valid_case_t *c = &header_cases[i];
        size_t n = strlen(c->raw);
        int r = parse_all_ways(c->raw, n, desc, sizeof(desc), 1);
        CHECK(r == (int)n && strcmp(desc, c->expect) == 0, "headers %zu: %d [%s] want [%s]", i, r, desc, c->expect);
    }
}

static void test_bare_lf(void) {
    char desc[2048];
    kiln_http_limits_t lenient = kiln_http_default_limits;
    lenient.allow = KILN_HTTP_ALLOW_BARE_LF;
    for (size_t i = 0; i < sizeof(bare_lf_cases) / sizeof(bare_lf_cases[0]); i++) {
        const valid_case_t *c = &bare_lf_cases[i];
        size_t n = strlen(c->raw);
        limits = NULL;
        int r = parse_all_ways(c->raw, n, desc, sizeof(desc), 0);
        CHECK(r == -400, "bare LF %zu refused by default: %d", i, r);
        limits = &lenient;
        r = parse_all_ways(c->raw, n, desc, sizeof(desc), 0);
        CHECK(r == (int)n && strcmp(desc, c->expect) == 0, "bare LF %zu allowed: %d [%s]", i, r, desc);
    }
    for (size_t i = 0; i < sizeof(mixed_lf_cases) / sizeof(mixed_lf_cases[0]); i++) {
        const char *raw = mixed_lf_cases[i];
        limits = NULL;
        int r = parse_all_ways(raw, strlen(raw), desc, sizeof(desc), 0);
        CHECK(r == -400, "mixed %zu by default: %d", i, r);
        limits = &lenient;
        r = parse_all_ways(raw, strlen(raw), desc, sizeof(desc), 0);
        CHECK(r == -400, "mixed %zu with bare LF allowed: %d", i, r);
    }
    limits = NULL;
}

// The head ends where the body (or the next request) starts; those bytes are not looked at.
static void test_body_follows(void) {
    const char *raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbodyGET / HTTP/1.1\r\n";
    size_t n = strlen(raw);
    kiln_http_request_t r = {0};
    int res = kiln_http_parse_request(&r, at_guard(raw, n), n, headers, max_headers, NULL);
    CHECK(res == (int)(strstr(raw, "body") - raw), "head length %d", res);
    CHECK(r.content_length == 4, "content length %u", (unsigned)r.content_length);
    // Called again once complete, it returns the same length.
    CHECK(kiln_http_parse_request(&r, at_guard(raw, n), n, headers, max_headers, NULL) == res, "again");
    // Resetting the state starts the next request.
    kiln_http_request_reset(&r);
    const char *next = raw + res + 4;
    res = kiln_http_parse_request(&r, at_guard(next, strlen(next)), strlen(next), headers, max_headers, NULL);
    CHECK(res == KILN_HTTP_INCOMPLETE, "next request incomplete: %d", res);
}

// --- rejections ---------------------------------------------------------------------------

typedef struct {
    const char *raw;
    int status;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    // request line
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"GET /\r\n\r\n", 400},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/x.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\r\n\r\n", 400},
    {"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GE:T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/3.1\r\nHost: a\r\n\r\n", 505},
    {"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"get / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    {"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501},
    // header lines
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  continued\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tcontinued\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX(: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX-\xc3\xa9: 1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", 400},
    // framing
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4294967296\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0004294967295\r\n\r\n", 413},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    // Host
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400},
};

static void test_bad(void) {
    char desc[2048];
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        size_t n = strlen(c->raw);
        if (c->raw[n - 1] != '\n') {
            n++; // the case with a NUL byte inside: strlen stops early
        }
        int r = parse_all_ways(c->raw, n, desc, sizeof(desc), 0);
        CHECK(r == -c->status, "bad %zu (%.50s): %d, want -%d", i, c->raw, r, c->status);
    }
}

// After an error the state refuses everything, whatever comes next.
static void test_error_sticks(void) {
    const char *raw = "GET / HTTP/1.1\r\nHost : a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    kiln_http_request_t r = {0};
    int a = kiln_http_parse_request(&r, raw, strlen(raw), headers, max_headers, NULL);
    int b = kiln_http_parse_request(&r, raw, strlen(raw), headers, max_headers, NULL);
    CHECK(a == -400 && b == -400, "sticky error: %d %d", a, b);
}

// A NUL byte in the middle of a header value (strlen cannot express it).
static void test_nul(void) {
    static const char raw[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    char desc[256];
    CHECK(parse_all_ways(raw, sizeof(raw) - 1, desc, sizeof(desc), 0) == -400, "NUL in value");
    static const char raw2[] = "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(parse_all_ways(raw2, sizeof(raw2) - 1, desc, sizeof(desc), 0) == -400, "NUL in target");
}

// --- limits -------------------------------------------------------------------------------

static void fill(char *dst, char c, size_t n) {
    memset(dst, c, n);
    dst[n] = 0;
}

static int parse_once(const char *raw) {
    kiln_http_request_t r = {0};
    size_t n = strlen(raw);
    return kiln_http_parse_request(&r, at_guard(raw, n), n, headers, max_headers, limits);
}

static void test_limits(void) {
    static char raw[16384], big[4096];
    char desc[256];
    // Request line: at the limit accepted, one over refused with 414, also before it ends.
    size_t rl_fixed = strlen("GET / HTTP/1.1");
    fill(big, 'a', KILN_HTTP_MAX_REQUEST_LINE - rl_fixed);
    snprintf(raw, sizeof(raw), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", big);
    CHECK(parse_once(raw) == (int)strlen(raw), "request line at the limit: %d", parse_once(raw));
    fill(big, 'a', KILN_HTTP_MAX_REQUEST_LINE - rl_fixed + 1);
    snprintf(raw, sizeof(raw), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", big);
    CHECK(parse_all_ways(raw, strlen(raw), desc, sizeof(desc), 0) == -414, "request line over");
    fill(big, 'a', KILN_HTTP_MAX_REQUEST_LINE);
    snprintf(raw, sizeof(raw), "GET /%s", big);
    CHECK(parse_once(raw) == -414, "unfinished request line over: %d", parse_once(raw));
    // One header line.
    size_t hl_fixed = strlen("X: ");
    fill(big, 'v', KILN_HTTP_MAX_HEADER_LINE - hl_fixed);
    snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n", big);
    CHECK(parse_once(raw) == (int)strlen(raw), "header line at the limit: %d", parse_once(raw));
    fill(big, 'v', KILN_HTTP_MAX_HEADER_LINE - hl_fixed + 1);
    snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n\r\n", big);
    CHECK(parse_all_ways(raw, strlen(raw), desc, sizeof(desc), 0) == -431, "header line over");
    fill(big, 'N', KILN_HTTP_MAX_HEADER_LINE + 1);
    snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\n%s", big);
    CHECK(parse_once(raw) == -431, "unfinished header name over: %d", parse_once(raw));
    // Header count: the array size.
    int n = snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < KILN_HTTP_MAX_HEADERS; i++) {
        n += snprintf(raw + n, sizeof(raw) - n, "X-%d: %d\r\n", i, i);
    }
    snprintf(raw + n, sizeof(raw) - n, "\r\n");
    CHECK(parse_once(raw) == (int)strlen(raw), "header count at the limit: %d", parse_once(raw));
    snprintf(raw + n, sizeof(raw) - n, "Y: 1\r\n\r\n");
    CHECK(parse_all_ways(raw, strlen(raw), desc, sizeof(desc), 0) == -431, "header count over");
    // Total head: two long header lines under the line limit but over the head limit.
    fill(big, 'v', KILN_HTTP_MAX_HEADER_LINE - 10);
    snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\nA: %s\r\nB: %s\r\n\r\n", big, big);
    CHECK(parse_all_ways(raw, strlen(raw), desc, sizeof(desc), 0) == -431, "head over");
    // A head exactly at the limit is accepted.
    n = snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\nA: %s\r\nB: ", big);
    size_t rest = KILN_HTTP_MAX_HEAD - n - 4;
    fill(big, 'w', rest);
    snprintf(raw + n, sizeof(raw) - n, "%s\r\n\r\n", big);
    CHECK(strlen(raw) == KILN_HTTP_MAX_HEAD && parse_once(raw) == KILN_HTTP_MAX_HEAD, "head at the limit: %d",
        parse_once(raw));

    // Run-time limits.
    kiln_http_limits_t lim = kiln_http_default_limits;
    lim.max_request_line = 20;
    lim.max_header_line = 20;
    lim.max_head = 60;
    lim.max_body = 10;
    lim.allow = KILN_HTTP_ALLOW_CUSTOM | KILN_HTTP_ALLOW_TRACE | KILN_HTTP_ALLOW_CONNECT;
    limits = &lim;
    CHECK(parse_once("GET /0123456789abcd HTTP/1.1\r\nHost: a\r\n\r\n") == -414, "run-time request line");
    CHECK(parse_once("GET / HTTP/1.1\r\nHost: 123456789012345\r\n\r\n") == -431, "run-time header line");
    CHECK(parse_once("GET / HTTP/1.1\r\nHost: 12345678901234\r\n\r\n") > 0, "run-time header line at the limit");
    CHECK(parse_once("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n\r\n")
        == -431, "run-time head");
    CHECK(parse_once("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n") == -413, "run-time body");
    CHECK(parse_once("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n") > 0, "run-time body limit");
    CHECK(parse_once("BREW / HTTP/1.1\r\nHost: a\r\n\r\n") > 0, "custom method allowed");
    CHECK(parse_once("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n") > 0, "TRACE allowed");
    CHECK(parse_once("CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n") > 0, "CONNECT allowed");
    CHECK(parse_once("CONNECT /a HTTP/1.1\r\nHost: a\r\n\r\n") == -400, "CONNECT needs authority-form");
    CHECK(parse_once("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n") == -400, "CONNECT needs a port");
    limits = NULL;
    // A smaller header array is a smaller count limit.
    max_headers = 2;
    CHECK(parse_once("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n") > 0, "two headers in two slots");
    CHECK(parse_once("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 1\r\n\r\n") == -431, "three in two slots");
    max_headers = KILN_HTTP_MAX_HEADERS;
}

// --- chunked bodies -----------------------------------------------------------------------

typedef struct {
    const char *raw;
    const char *body;   // decoded, when result >= 0
    int result;         // bytes after the body, or -status
} chunk_case_t;

static const chunk_case_t chunk_cases[] = {
    {"0\r\n\r\n", "", 0},
    {"5\r\nhello\r\n0\r\n\r\n", "hello", 0},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", "hello world", 4},
    {"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", 0},
    {"005\r\nhello\r\n000\r\n\r\n", "hello", 0},
    {"5;ext=1\r\nhello\r\n0;last\r\n\r\n", "hello", 0},
    {"5 ;ext=\"q v\"\r\nhello\r\n0\r\n\r\n", "hello", 0},
    {"5\r\nhello\r\n0\r\nTrailer: x\r\nOther:y\r\n\r\nX", "hello", 1},
    {"2\r\n\r\n\r\n0\r\n\r\n", "\r\n", 0},
    {"\r\n0\r\n\r\n", "", -400},
    {"g\r\n", "", -400},
    {"5\r\nhelloX\r\n0\r\n\r\n", "", -400},
    {"5\r\nhello\r\r\n0\r\n\r\n", "", -400},
    {"5x\r\nhello\r\n0\r\n\r\n", "", -400},
    {"5 x\r\nhello\r\n0\r\n\r\n", "", -400},
    {"5\rhello\r\n0\r\n\r\n", "", -400},
    {"-5\r\nhello\r\n0\r\n\r\n", "", -400},
    {"5;a\x01\r\nhello\r\n0\r\n\r\n", "", -400},
    {"100000000\r\n", "", -400},
    {"10001\r\n", "", -413},
    {"8000\r\n", "", KILN_HTTP_INCOMPLETE},
    {"5\r\nhello\r\n0\r\n Bad: fold\r\n\r\n", "", -400},
    {"5\r\nhello\r\n0\r\nBad : x\r\n\r\n", "", -400},
    {"5\r\nhello\r\n0\r\nBad: \x01\r\n\r\n", "", -400},
    {"5\r\nhello\r\n0\r\n\rX", "", -400},
    // chunk extensions: token [= token / quoted-string], whitespace around ';' and '='
    {"5;a=b;c\r\nhello\r\n0\r\n\r\n", "hello", 0},
    {"5 ; a = b ; c \r\nhello\r\n0\r\n\r\n", "hello", 0},
    {"5;a=\"x;y=\\\"z\\\\\"\r\nhello\r\n0\r\n\r\n", "hello", 0},
    {"5;a=\"\"\r\nhello\r\n0;b=\"\t\x80\"\r\n\r\n", "hello", 0},
    {"2;\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2; \r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;;a\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;=b\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a==b\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=b=c\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=b c\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a b\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=\"b\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=\"b\\\"\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=b\"c\"\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=\"b\"c\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a(b\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;a=\"\x01\"\r\nhi\r\n0\r\n\r\n", "", -400},
    {"2;\xc3\xa9\r\nhi\r\n0\r\n\r\n", "", -400},
    // bare LF anywhere in a chunked body: 400 by default (see test_chunked_bare_lf)
    {"5\nhello\n0\n\n", "", -400},
    {"2\nhi\r\n0\r\n\r\n", "", -400},
    {"2\r\nhi\n0\r\n\r\n", "", -400},
    {"0\r\n\n", "", -400},
    {"0\r\nT: 1\n\r\n", "", -400},
    {"2;a\nhi\r\n0\r\n\r\n", "", -400},
};

// Chunked bodies with KILN_HTTP_ALLOW_BARE_LF: all bare LF is accepted, a mix still is not.
static const chunk_case_t chunk_bare_lf_cases[] = {
    {"5\nhello\n0\n\n", "hello", 0},
    {"5;a=\"b\"\nhello\n0\nT: x\n\nNEXT", "hello", 4},
    {"5\r\nhello\n0\r\n\r\n", "", -400},
    {"5\nhello\r\n0\n\n", "", -400},
    {"0\nT: x\r\n\n", "", -400},
    {"0\n\r\n", "", -400},
    {"0\r\n\n", "", -400},
};

// Decodes raw[0..n) in pieces of `step` bytes (0: whole), like a socket loop would: each piece
// is decoded in place and appended to out. Returns the final result.
static const kiln_http_limits_t *chunk_limits;

static int decode_in_steps(const char *raw, size_t n, size_t step, char *out, size_t *out_len,
    char *after, size_t *after_len) {
    kiln_http_chunked_t dec = {0};
    static char piece[65536];
    size_t pos = 0;
    int r = KILN_HTTP_INCOMPLETE;
    *out_len = 0;
    *after_len = 0;
    while (r == KILN_HTTP_INCOMPLETE && pos < n) {
        size_t k = step && n - pos > step ? step : n - pos;
        memcpy(piece, raw + pos, k);
        char *p = at_guard(piece, k);
        size_t len = k;
        r = kiln_http_decode_chunked(&dec, p, &len, chunk_limits);
        CHECK(len <= k, "decoded more than given");
        memcpy(out + *out_len, p, len);
        *out_len += len;
        pos += k;
        if (r >= 0) {
            memcpy(after, p + len, r);
            *after_len = r;
        }
    }
    // Once ended, every later byte is "after the body".
    if (r >= 0 && pos < n) {
        size_t len = n - pos;
        char *p = at_guard(raw + pos, len);
        int again = kiln_http_decode_chunked(&dec, p, &len, chunk_limits);
        CHECK(again == (int)(n - pos) && len == 0, "after the end: %d", again);
        memcpy(after + *after_len, p, again);
        *after_len += again;
        r += again;
    }
    return r;
}

static void check_chunk_cases(const chunk_case_t *cases, size_t count, const char *what) {
    static char out[65536], after[65536];
    for (size_t i = 0; i < count; i++) {
        const chunk_case_t *c = &cases[i];
        size_t n = strlen(c->raw);
        for (size_t step = 0; step <= n; step++) {
            size_t out_len, after_len;
            int r = decode_in_steps(c->raw, n, step, out, &out_len, after, &after_len);
            CHECK(r == c->result, "%s %zu step %zu: %d, want %d", what, i, step, r, c->result);
            if (r >= 0 && c->result >= 0) {
                CHECK(out_len == strlen(c->body) && memcmp(out, c->body, out_len) == 0,
                    "%s %zu step %zu: body [%.*s]", what, i, step, (int)out_len, out);
                CHECK(after_len == (size_t)r && memcmp(after, c->raw + n - r, r) == 0,
                    "%s %zu step %zu: trailing bytes", what, i, step);
            }
        }
    }
}

static void test_chunked(void) {
    static char out[65536], after[65536];
    check_chunk_cases(chunk_cases, sizeof(chunk_cases) / sizeof(chunk_cases[0]), "chunked");
    kiln_http_limits_t lenient = kiln_http_default_limits;
    lenient.allow = KILN_HTTP_ALLOW_BARE_LF;
    chunk_limits = &lenient;
    check_chunk_cases(chunk_bare_lf_cases, sizeof(chunk_bare_lf_cases) / sizeof(chunk_bare_lf_cases[0]),
        "chunked bare LF");
    // With bare LF allowed, every valid CRLF case decodes the same.
    check_chunk_cases(chunk_cases, 9, "chunked lenient");
    chunk_limits = NULL;
    // An error sticks.
    kiln_http_chunked_t dec = {0};
    char bad[] = "zz\r\n";
    size_t len = 4;
    CHECK(kiln_http_decode_chunked(&dec, bad, &len, NULL) == -400, "bad size");
    char good[] = "0\r\n\r\n";
    len = 5;
    CHECK(kiln_http_decode_chunked(&dec, good, &len, NULL) == -400 && len == 0, "error sticks");
    // Size lines and trailers are bounded.
    static char raw[8192];
    int n = snprintf(raw, sizeof(raw), "1;");
    memset(raw + n, 'e', KILN_HTTP_MAX_HEADER_LINE);
    memcpy(raw + n + KILN_HTTP_MAX_HEADER_LINE, "\r\n", 3);
    size_t out_len, after_len;
    CHECK(decode_in_steps(raw, strlen(raw), 0, out, &out_len, after, &after_len) == -431, "long extension");
    n = snprintf(raw, sizeof(raw), "0\r\n");
    for (int i = 0; n < KILN_HTTP_MAX_HEAD + 100; i++) {
        n += snprintf(raw + n, sizeof(raw) - n, "T%d: 0123456789012345678901234567890123456789\r\n", i);
    }
    snprintf(raw + n, sizeof(raw) - n, "\r\n");
    CHECK(decode_in_steps(raw, strlen(raw), 0, out, &out_len, after, &after_len) == -431, "long trailers");
    // The body limit counts decoded bytes across chunks: 65 chunks of 1 KB go over 64 KB.
    kiln_http_chunked_t d2 = {0};
    static char chunk[1100];
    int r = KILN_HTTP_INCOMPLETE;
    for (int i = 0; i < 65 && r == KILN_HTTP_INCOMPLETE; i++) {
        memcpy(chunk, "400\r\n", 5);
        memset(chunk + 5, 'd', 1024);
        memcpy(chunk + 5 + 1024, "\r\n", 2);
        size_t k = 5 + 1024 + 2;
        r = kiln_http_decode_chunked(&d2, chunk, &k, NULL);
    }
    CHECK(r == -413, "chunked body over max_body: %d", r);
}

// --- helpers ------------------------------------------------------------------------------

static void test_url_decode(void) {
    static const struct { const char *in; int plus; const char *out; } cases[] = {
        {"", 0, ""}, {"abc", 0, "abc"}, {"a%20b", 0, "a b"}, {"a+b", 0, "a+b"}, {"a+b", 1, "a b"},
        {"%7e%7E", 0, "~~"}, {"%", 0, "%"}, {"%2", 0, "%2"}, {"%zz", 0, "%zz"}, {"%2g", 0, "%2g"},
        {"100%", 0, "100%"}, {"%C3%A9", 0, "\xc3\xa9"}, {"%2B+", 1, "+ "}, {"%%41", 0, "%A"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        char *src = at_guard(cases[i].in, n);
        size_t m = kiln_http_url_decode(out, src, n, cases[i].plus);
        CHECK(m == strlen(cases[i].out) && memcmp(out, cases[i].out, m) == 0, "url_decode %s", cases[i].in);
        int changes = m != n || memcmp(out, cases[i].in, n) != 0;
        CHECK(!changes || kiln_http_url_needs_decode(src, n, cases[i].plus), "needs_decode %s", cases[i].in);
        // In place.
        m = kiln_http_url_decode(src, src, n, cases[i].plus);
        CHECK(m == strlen(cases[i].out) && memcmp(src, cases[i].out, m) == 0, "in place %s", cases[i].in);
    }
    CHECK(!kiln_http_url_needs_decode("a+b", 3, 0) && kiln_http_url_needs_decode("a+b", 3, 1), "needs + ");
}

static void test_query(void) {
    static const struct { const char *in; const char *pairs; } cases[] = {
        {"", ""}, {"a=1", "a=1;"}, {"a=1&b=2", "a=1;b=2;"}, {"a", "a=;"}, {"a=", "a=;"}, {"=1", "=1;"},
        {"&&a=1&&b&", "a=1;b=;"}, {"a=1=2", "a=1=2;"}, {"a=%20&b=+", "a=%20;b=+;"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in), pos = 0;
        const char *qs = at_guard(cases[i].in, n);
        kiln_http_span_t name, value;
        int o = 0;
        out[0] = 0;
        while (kiln_http_query_next(qs, n, &pos, &name, &value)) {
            o += snprintf(out + o, sizeof(out) - o, "%.*s=%.*s;", (int)name.len, qs + name.off,
                (int)value.len, qs + value.off);
        }
        CHECK(strcmp(out, cases[i].pairs) == 0, "query %s: %s", cases[i].in, out);
    }
}

static void test_find_header(void) {
    const char *raw = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nX-AB: 3\r\n\r\n";
    kiln_http_request_t r = {0};
    size_t n = strlen(raw);
    const char *buf = at_guard(raw, n);
    CHECK(kiln_http_parse_request(&r, buf, n, headers, max_headers, NULL) == (int)n, "parse");
    CHECK(kiln_http_find_header(buf, headers, r.num_headers, 0, "x-a", 3) == 1, "first");
    CHECK(kiln_http_find_header(buf, headers, r.num_headers, 2, "X-A", 3) == 2, "second");
    CHECK(kiln_http_find_header(buf, headers, r.num_headers, 3, "x-a", 3) == -1, "no third");
    CHECK(kiln_http_find_header(buf, headers, r.num_headers, 0, "HOST", 4) == 0, "host");
    CHECK(kiln_http_find_header(buf, headers, r.num_headers, 0, "x-ab", 4) == 3, "longer");
    CHECK(kiln_http_find_header(buf, headers, r.num_headers, 0, "x", 1) == -1, "prefix only");
    CHECK(strcmp(kiln_http_method_name(KILN_HTTP_PATCH), "PATCH") == 0 && !kiln_http_method_name(0), "names");
}

// The field rules both directions share: every byte the parser accepts in a value (and only
// those) passes kiln_http_field_ok as a value; names are tokens.
static void test_field_rules(void) {
    for (int b = 0; b < 256; b++) {
        char raw[64];
        int n = snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: a\r\nX: a%cb\r\n\r\n", 'Z');
        char *z = strchr(raw, 'Z');
        *z = (char)b;
        char v[3] = {'a', (char)b, 'b'};
        kiln_http_request_t r = {0};
        int parsed = kiln_http_parse_request(&r, at_guard(raw, n), n, headers, max_headers, NULL) > 0;
        CHECK(parsed == kiln_http_field_ok(v, 3, 1), "byte 0x%02x: parser %d, value rule %d", b, parsed,
            kiln_http_field_ok(v, 3, 1));
    }
    CHECK(!kiln_http_field_ok("a\x0b", 2, 1) && !kiln_http_field_ok("\x0c", 1, 1)
        && kiln_http_field_ok("a\tb \x80", 5, 1) && kiln_http_field_ok("", 0, 1), "values");
    CHECK(kiln_http_field_ok("X-A_b.1~", 8, 0) && !kiln_http_field_ok("", 0, 0)
        && !kiln_http_field_ok("X A", 3, 0) && !kiln_http_field_ok("X:", 2, 0)
        && !kiln_http_field_ok("X\xe9", 2, 0) && !kiln_http_field_ok("(x)", 3, 0), "names");
}

int main(void) {
    guard_init();
    test_valid();
    test_bare_lf();
    test_body_follows();
    test_bad();
    test_error_sticks();
    test_nul();
    test_limits();
    test_chunked();
    test_url_decode();
    test_query();
    test_find_header();
    test_field_rules();
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "OK", checks, failures);
    return failures != 0;
}
