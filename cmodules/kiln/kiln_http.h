// Kiln's HTTP/1.1 request parser: portable C, no MicroPython header, owns no memory.
//
// The caller keeps the bytes in its own buffer and passes (buf, len) on every call, always from
// the first byte of the request; results are offsets into that buffer, so the caller may move or
// grow it between calls. All state lives in small zero-initialisable structs.
//
// Return convention of the parsing functions:
//   > 0 (or >= 0 where noted)  complete (for the head: its length, final LF included)
//   KILN_HTTP_INCOMPLETE (-1)  every byte so far is valid, more are needed
//   -400, -413, -414, -431, -501, -505  the request is refused with that status; the state stays
//                                       in error and every later call returns the same value,
//                                       the caller answers and closes the connection.
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include <stddef.h>
#include <stdint.h>

// Compile-time defaults, sized for a microcontroller; a board may override them, a server may
// override them at run time through kiln_http_limits_t.
#ifndef KILN_HTTP_MAX_REQUEST_LINE
#define KILN_HTTP_MAX_REQUEST_LINE (2048)   // bytes before the line's CR/LF; above: 414
#endif
#ifndef KILN_HTTP_MAX_HEADER_LINE
#define KILN_HTTP_MAX_HEADER_LINE (2048)    // one header line without CR/LF; above: 431
#endif
#ifndef KILN_HTTP_MAX_HEAD
#define KILN_HTTP_MAX_HEAD (4096)           // request line + headers + blank line; above: 431
#endif
#ifndef KILN_HTTP_MAX_HEADERS
#define KILN_HTTP_MAX_HEADERS (32)          // suggested header array size (its size is the limit)
#endif
#ifndef KILN_HTTP_MAX_BODY
#define KILN_HTTP_MAX_BODY (64 * 1024)      // Content-Length or decoded chunked size; above: 413
#endif

// The head is addressed with 16-bit offsets and counts (kiln_http_request_t, kiln_http_header_t,
// the 16-bit line and head limits of kiln_http_limits_t); a body's size with 32 bits, of which
// the Python binding takes 31 (a limit above is refused there).
#if KILN_HTTP_MAX_HEAD > 65535 || KILN_HTTP_MAX_REQUEST_LINE > 65535 || KILN_HTTP_MAX_HEADER_LINE > 65535
#error "KILN_HTTP_MAX_HEAD, _REQUEST_LINE and _HEADER_LINE must fit 16-bit offsets (<= 65535)"
#endif
#if KILN_HTTP_MAX_HEADERS < 1 || KILN_HTTP_MAX_HEADERS > 65535
#error "KILN_HTTP_MAX_HEADERS must fit the 16-bit header count (1 to 65535)"
#endif
#if KILN_HTTP_MAX_BODY < 1 || KILN_HTTP_MAX_BODY > 0x7fffffff
#error "KILN_HTTP_MAX_BODY must be 1 to 0x7fffffff"
#endif

#define KILN_HTTP_INCOMPLETE (-1)

// Methods. KILN_HTTP_OTHER is a custom token, accepted only with KILN_HTTP_ALLOW_CUSTOM.
enum {
    KILN_HTTP_OTHER = 0,
    KILN_HTTP_GET,
    KILN_HTTP_HEAD,
    KILN_HTTP_POST,
    KILN_HTTP_PUT,
    KILN_HTTP_DELETE,
    KILN_HTTP_PATCH,
    KILN_HTTP_OPTIONS,
    KILN_HTTP_CONNECT,      // answered 501 unless KILN_HTTP_ALLOW_CONNECT
    KILN_HTTP_TRACE,        // answered 501 unless KILN_HTTP_ALLOW_TRACE
};

// kiln_http_limits_t.allow bits.
#define KILN_HTTP_ALLOW_CUSTOM (1)
#define KILN_HTTP_ALLOW_CONNECT (2)
#define KILN_HTTP_ALLOW_TRACE (4)
// Bare LF line ends (RFC 9112 2.2 "MAY"), in the head and in a chunked body. Off by default: a
// bare LF is 400. On, a message whose lines all end in bare LF is accepted; one that mixes bare
// LF with CRLF is still 400 (a proxy that splits lines only on CRLF would read other fields).
#define KILN_HTTP_ALLOW_BARE_LF (8)

typedef struct _kiln_http_limits_t {
    uint16_t max_request_line;
    uint16_t max_header_line;
    uint16_t max_head;          // head offsets are 16-bit (see the #error above)
    uint32_t max_body;
    uint8_t allow;
} kiln_http_limits_t;

// The compile-time defaults; pass NULL as limits to use them.
extern const kiln_http_limits_t kiln_http_default_limits;

// One header line: name and value as offsets into the caller's buffer. The value has its
// leading and trailing spaces/tabs removed; names keep their case.
typedef struct _kiln_http_header_t {
    uint16_t name_off;
    uint16_t name_len;
    uint16_t value_off;
    uint16_t value_len;
} kiln_http_header_t;

// kiln_http_request_t.flags bits.
#define KILN_HTTP_F_KEEP_ALIVE (1)        // 1.1 without "Connection: close", 1.0 with keep-alive
#define KILN_HTTP_F_CONTENT_LENGTH (2)    // a Content-Length was given (content_length)
#define KILN_HTTP_F_CHUNKED (4)           // Transfer-Encoding: chunked (use kiln_http_decode_chunked)
#define KILN_HTTP_F_EXPECT_CONTINUE (8)   // HTTP/1.1 "Expect: 100-continue"
#define KILN_HTTP_F_UPGRADE (16)          // HTTP/1.1, Connection lists "upgrade", Upgrade given
#define KILN_HTTP_F_QUERY (32)            // the target has a '?' (query may still be empty)

// A request head: zero it (memset or `= {0}`) before the first call, and again (or call
// kiln_http_request_reset) before the next request on the connection. The public fields are
// valid once kiln_http_parse_request returned > 0; fields starting with `s_` are private.
typedef struct _kiln_http_request_t {
    uint8_t method;             // KILN_HTTP_GET...
    uint8_t minor_version;      // 0 or 1 (HTTP/1.2-1.9 are reported as 1)
    uint8_t flags;              // KILN_HTTP_F_*
    uint16_t method_off, method_len;    // the method token (after any leading empty lines)
    uint16_t target_off, target_len;    // the raw request-target
    uint16_t path_off, path_len;        // path part of the target (still %-encoded); for the
                                        // absolute form without a path, path_len is 0 (means "/")
    uint16_t query_off, query_len;      // after '?', without it (see KILN_HTTP_F_QUERY)
    uint16_t upgrade_off, upgrade_len;  // the Upgrade value when KILN_HTTP_F_UPGRADE
    uint16_t num_headers;               // entries filled in the caller's header array
    uint16_t head_len;                  // the return value, once complete
    uint32_t content_length;            // when KILN_HTTP_F_CONTENT_LENGTH
    // Private resume state.
    uint16_t s_pos;         // next byte to look at
    uint16_t s_line;        // start of the current line
    uint16_t s_mark;        // start of the current header value
    uint16_t s_status;      // error status once failed
    uint16_t s_seen;        // which framing headers were seen (private bits)
    uint8_t s_state;
} kiln_http_request_t;

// Parses the head in buf[0..len) (len may grow between calls; bytes already looked at must not
// change). headers/max_headers: the caller's array, its size is the header count limit (431
// above it); it must be the same array, or hold the same entries, on every call of one request.
// limits may be NULL. Returns the head length (the body starts at buf + that), or
// KILN_HTTP_INCOMPLETE, or a negative status. Resumes where the previous call stopped: a head
// delivered one byte at a time costs the same as one delivered whole. Leading empty lines before
// the request line are skipped (they count in the head length). A bare LF line end is 400 (once
// the head is complete) unless limits allow KILN_HTTP_ALLOW_BARE_LF; a head mixing bare LF with
// CRLF is 400 always.
int kiln_http_parse_request(kiln_http_request_t *req, const char *buf, size_t len,
    kiln_http_header_t *headers, size_t max_headers, const kiln_http_limits_t *limits);

// Zeroes req for the next request.
void kiln_http_request_reset(kiln_http_request_t *req);

// The incremental in-place chunked body decoder; zero it before the body.
typedef struct _kiln_http_chunked_t {
    uint32_t remaining;     // data bytes left in the current chunk
    uint32_t total;         // data bytes decoded so far (checked against max_body)
    uint16_t line_len;      // bytes of the current size or trailer line
    uint16_t trailer_len;   // trailer bytes so far (limit: max_head, 431)
    uint8_t state;
    uint16_t line_ends;     // which line ends were seen (CRLF, bare LF): never both
} kiln_http_chunked_t;

// Decodes chunked data in place. On entry buf[0..*len) holds raw bytes that follow those given
// to the previous call; on return buf[0..*len) holds the data they decoded to (never more bytes
// than came in). Returns KILN_HTTP_INCOMPLETE when the body goes on (all input was used), or,
// when the last chunk and the trailer section ended, the number (>= 0) of bytes that came after
// the body: they were moved to buf[*len..*len + ret) (the next pipelined request). Chunk
// extensions are checked (`;name[=token|"quoted"]`, whitespace around ';' and '=') and
// skipped; trailer fields are checked and discarded. Line ends as for the head (bare LF only
// with KILN_HTTP_ALLOW_BARE_LF, never mixed with CRLF in one body). Errors: -400 (bad syntax),
// -413 (decoded size above max_body), -431 (a size line or the trailers too long). limits may
// be NULL.
int kiln_http_decode_chunked(kiln_http_chunked_t *dec, char *buf, size_t *len,
    const kiln_http_limits_t *limits);

// Percent-decodes src[0..len) into dst (dst may be src; it needs len bytes at most), turning
// '+' into ' ' when plus is nonzero. A '%' not followed by two hex digits is kept as is.
// Returns the decoded length.
size_t kiln_http_url_decode(char *dst, const char *src, size_t len, int plus);

// Nonzero when kiln_http_url_decode would change src (it holds a '%', or a '+' with plus).
int kiln_http_url_needs_decode(const char *src, size_t len, int plus);

// An offset/length pair into a caller's string.
typedef struct _kiln_http_span_t {
    size_t off;
    size_t len;
} kiln_http_span_t;

// Iterates the "name=value" pairs of a query string or urlencoded form qs[0..len), separated by
// '&'. Start with *pos = 0. Returns 1 with the next pair's raw (still encoded) name and value,
// a pair without '=' has an empty value; returns 0 at the end. Empty pairs ("a=1&&b=2") are
// skipped.
int kiln_http_query_next(const char *qs, size_t len, size_t *pos,
    kiln_http_span_t *name, kiln_http_span_t *value);

// Index of the first header, at index from or later, whose name equals name[0..name_len)
// ignoring ASCII case; -1 when there is none.
int kiln_http_find_header(const char *buf, const kiln_http_header_t *headers, size_t num_headers,
    size_t from, const char *name, size_t name_len);

// The field rules, the same for requests coming in and responses going out: a name is a token
// (not empty); a value is VCHAR, obs-text (0x80-0xff), SP and HTAB, nothing else (no CR, LF,
// NUL or other control character). Nonzero when s[0..n) follows the rule for a value (value
// nonzero) or for a name.
int kiln_http_field_ok(const char *s, size_t n, int value);

// Nonzero when a[0..n) equals b[0..n) ignoring ASCII case.
int kiln_http_casecmp(const char *a, const char *b, size_t n);

// The method's name ("GET"...) for KILN_HTTP_GET...; NULL for KILN_HTTP_OTHER.
const char *kiln_http_method_name(int method);

#endif // KILN_HTTP_H
