// Kiln's HTTP/1.1 request parser (see kiln_http.h). Portable C, no MicroPython header.
#include <string.h>
#include "kiln_http.h"

const kiln_http_limits_t kiln_http_default_limits = {
    .max_request_line = KILN_HTTP_MAX_REQUEST_LINE,
    .max_header_line = KILN_HTTP_MAX_HEADER_LINE,
    .max_head = KILN_HTTP_MAX_HEAD,
    .max_body = KILN_HTTP_MAX_BODY,
    .allow = 0,
};

// Character classes: a token character (method, header name), a field value character
// (VCHAR, obs-text, SP, HTAB), a request-target character (VCHAR but '#'), a hex digit, a Host
// value character (RFC 3986 host and port characters, but ',' which would make it a list).
#define C_TOK (1)
#define C_VAL (2)
#define C_TGT (4)
#define C_HEX (8)
#define C_HOST (16)

static const uint8_t char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 23, 6, 3, 23, 23, 23, 23, 22, 22, 23, 23, 6, 23, 23, 6,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 22, 22, 6, 22, 6, 6,
    6, 31, 31, 31, 31, 31, 31, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 22, 6, 22, 7, 23,
    7, 31, 31, 31, 31, 31, 31, 23, 23, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 6, 7, 6, 23, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

#define IS(c, cls) (char_class[(uint8_t)(c)] & (cls))

// Head parser states.
enum {
    S_START = 0,    // before the request line (empty lines are skipped)
    S_START_CR,
    S_METHOD,
    S_TARGET,
    S_VERSION,
    S_RL_CR,
    S_LINE,         // start of a header line, or of the final empty line
    S_NAME,
    S_OWS,
    S_VALUE,
    S_VALUE_CR,
    S_END_CR,
    S_DONE,
    S_ERROR,
};

// s_seen bits: framing headers met so far.
#define SEEN_HOST (1)
#define SEEN_CL (2)
#define SEEN_TE (4)
#define TE_CHUNKED_LAST (8)
#define TE_OTHER (16)
#define CONN_CLOSE (32)
#define CONN_KEEP_ALIVE (64)
#define CONN_UPGRADE (128)
#define EXPECT_100 (256)
#define SEEN_BARE_LF (512)

static const char *const method_names[] = {
    NULL, "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
};

// The kiln_http_limits_t.allow bit each method needs.
static const uint8_t method_needs[] = {
    KILN_HTTP_ALLOW_CUSTOM, 0, 0, 0, 0, 0, 0, 0, KILN_HTTP_ALLOW_CONNECT, KILN_HTTP_ALLOW_TRACE,
};

const char *kiln_http_method_name(int method) {
    if (method <= KILN_HTTP_OTHER || method > KILN_HTTP_TRACE) {
        return NULL;
    }
    return method_names[method];
}

static inline uint8_t lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int kiln_http_casecmp(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (lower(a[i]) != lower(b[i])) {
            return 0;
        }
    }
    return 1;
}

// s[0..n) equals the lower-case literal lit (of length lit_len), ignoring the case of s.
static int eq_lit(const uint8_t *s, size_t n, const char *lit, size_t lit_len) {
    return n == lit_len && kiln_http_casecmp((const char *)s, lit, n);
}
#define EQ(s, n, lit) eq_lit((s), (n), (lit), sizeof(lit) - 1)

static uint8_t method_id(const uint8_t *m, size_t n) {
    for (uint8_t i = KILN_HTTP_GET; i <= KILN_HTTP_TRACE; i++) {
        const char *name = method_names[i];
        if (strlen(name) == n && memcmp(name, m, n) == 0) {
            return i;
        }
    }
    return KILN_HTTP_OTHER;
}

static inline int is_alpha(uint8_t c) {
    return lower(c) >= 'a' && lower(c) <= 'z';
}

static inline int is_ows(uint8_t c) {
    return c == ' ' || c == '\t';
}

// The header names the parser acts on, by index; each is lower-case.
enum { H_HOST, H_EXPECT, H_UPGRADE, H_CONNECTION, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_OTHER };
static const char *const framing_names[] = {
    "host", "expect", "upgrade", "connection", "content-length", "transfer-encoding",
};
static const uint8_t framing_lens[] = { 4, 6, 7, 10, 14, 17 };

// Takes note of the framing headers; returns 0 or an error status.
static int header_semantics(kiln_http_request_t *req, const uint8_t *name, size_t nl,
    const uint8_t *v, size_t vl, size_t voff) {
    uint16_t seen = req->s_seen;
    uint8_t which = 0;
    while (which < H_OTHER && !eq_lit(name, nl, framing_names[which], framing_lens[which])) {
        which++;
    }
    switch (which) {
        case H_HOST:
            if (seen & SEEN_HOST) {
                return 400;
            }
            for (size_t i = 0; i < vl; i++) {
                if (!IS(v[i], C_HOST)) {
                    return 400;
                }
            }
            seen |= SEEN_HOST;
            break;
        case H_EXPECT:
            if (EQ(v, vl, "100-continue")) {
                seen |= EXPECT_100;
            }
            break;
        case H_UPGRADE:
            if (req->upgrade_off == 0) {
                req->upgrade_off = voff;
                req->upgrade_len = vl;
            }
            return 0;
        case H_OTHER:
            return 0;
        case H_CONTENT_LENGTH:
            if (vl == 0) {
                return 400;
            }
            break;
        case H_TRANSFER_ENCODING:
            seen |= SEEN_TE;
            break;
    }
    // The list headers: each comma-separated element, whitespace around it removed.
    for (size_t i = 0; i <= vl && which >= H_CONNECTION; i++) {
        size_t s = i;
        while (i < vl && v[i] != ',') {
            i++;
        }
        size_t e = i;
        while (s < e && is_ows(v[s])) {
            s++;
        }
        while (e > s && is_ows(v[e - 1])) {
            e--;
        }
        const uint8_t *el = v + s;
        size_t n = e - s;
        if (which == H_CONTENT_LENGTH) {
            // A list of identical values is accepted (RFC 9112 6.3); an empty element is not.
            uint32_t len = 0;
            if (n == 0) {
                return 400;
            }
            for (size_t k = 0; k < n; k++) {
                uint8_t d = el[k] - '0';
                if (d > 9 || len > 429496729 || (len == 429496729 && d > 5)) {
                    return 400; // not a number, or too large to represent
                }
                len = len * 10 + d;
            }
            if ((seen & SEEN_CL) && len != req->content_length) {
                return 400;
            }
            seen |= SEEN_CL;
            req->content_length = len;
        } else if (n == 0) {
            continue; // empty list elements are allowed (RFC 9110 5.6.1)
        } else if (which == H_TRANSFER_ENCODING) {
            if (seen & TE_CHUNKED_LAST) {
                return 400; // chunked applied twice, or not the final coding
            }
            seen |= EQ(el, n, "chunked") ? TE_CHUNKED_LAST : TE_OTHER;
        } else if (EQ(el, n, "close")) {
            seen |= CONN_CLOSE;
        } else if (EQ(el, n, "keep-alive")) {
            seen |= CONN_KEEP_ALIVE;
        } else if (EQ(el, n, "upgrade")) {
            seen |= CONN_UPGRADE;
        }
    }
    req->s_seen = seen;
    return 0;
}

// A bare LF (no CR before it) is noted where it ends a line; once the head is complete it is
// refused unless the limits allow bare LF, and then too if the head has a CR (in a valid head
// a CR is always part of a CRLF): a head mixing both kinds is refused. CRLF heads pay nothing.
#define BARE_LF() (bare_lf = SEEN_BARE_LF)

// Splits the request-target into path and query; returns 0 or 400.
static int classify_target(kiln_http_request_t *req, const uint8_t *buf) {
    size_t off = req->target_off, n = req->target_len, path = 0;
    const uint8_t *t = buf + off;
    uint8_t m = req->method;
    if (m == KILN_HTTP_CONNECT || (n == 1 && t[0] == '*')) {
        // authority-form "host:port", CONNECT only; asterisk-form, OPTIONS only: the path is all
        if (m == KILN_HTTP_CONNECT
            ? (memchr(t, '/', n) || memchr(t, '@', n) || !memchr(t, ':', n))
            : m != KILN_HTTP_OPTIONS) {
            return 400;
        }
        req->path_off = off;
        req->path_len = n;
        return 0;
    }
    if (t[0] != '/') {
        // absolute-form: scheme "://" authority [path] ["?" query]; the scheme is checked loosely
        // (a letter, then token characters), the authority not at all (Host is what counts)
        while (path < n && IS(t[path], C_TOK)) {
            path++;
        }
        if (!is_alpha(t[0]) || n - path < 3 || memcmp(t + path, "://", 3) != 0) {
            return 400;
        }
        path += 3;
        while (path < n && t[path] != '/' && t[path] != '?') {
            path++;
        }
    }
    const uint8_t *q = memchr(t + path, '?', n - path);
    size_t path_end = q ? (size_t)(q - t) : n;
    req->path_off = off + path;
    req->path_len = path_end - path;
    if (q) {
        req->flags |= KILN_HTTP_F_QUERY;
        req->query_off = off + path_end + 1;
        req->query_len = n - path_end - 1;
    }
    return 0;
}

// Checks done once the request line is complete; returns 0 or an error status.
static int request_line_done(kiln_http_request_t *req, const uint8_t *buf, const kiln_http_limits_t *lim) {
    const uint8_t *v = buf + req->target_off + req->target_len + 1; // "HTTP/d.d", checked
    if (v[5] != '1') {
        return 505;
    }
    req->minor_version = v[7] != '0';
    if (method_needs[req->method] & ~lim->allow) {
        return 501;
    }
    return classify_target(req, buf);
}

// Checks done once the head is complete, and the flags; returns 0 or an error status.
static int head_done(kiln_http_request_t *req, const kiln_http_limits_t *lim) {
    uint16_t seen = req->s_seen;
    uint8_t flags = req->flags, http11 = req->minor_version;
    if (seen & SEEN_TE) {
        if (!http11 || (seen & SEEN_CL) || !(seen & TE_CHUNKED_LAST)) {
            return 400;
        }
        if (seen & TE_OTHER) {
            return 501; // a coding before chunked that Kiln cannot undo
        }
        flags |= KILN_HTTP_F_CHUNKED;
    }
    if (seen & SEEN_CL) {
        if (req->content_length > lim->max_body) {
            return 413;
        }
        flags |= KILN_HTTP_F_CONTENT_LENGTH;
    }
    if (http11) {
        if (!(seen & SEEN_HOST)) {
            return 400;
        }
        if (!(seen & CONN_CLOSE)) {
            flags |= KILN_HTTP_F_KEEP_ALIVE;
        }
        if (seen & EXPECT_100) {
            flags |= KILN_HTTP_F_EXPECT_CONTINUE;
        }
        if ((seen & CONN_UPGRADE) && req->upgrade_off) {
            flags |= KILN_HTTP_F_UPGRADE;
        }
    } else if ((seen & (CONN_KEEP_ALIVE | CONN_CLOSE)) == CONN_KEEP_ALIVE) {
        flags |= KILN_HTTP_F_KEEP_ALIVE;
    }
    if (!(flags & KILN_HTTP_F_UPGRADE)) {
        req->upgrade_off = req->upgrade_len = 0;
    }
    req->flags = flags;
    return 0;
}

void kiln_http_request_reset(kiln_http_request_t *req) {
    memset(req, 0, sizeof(*req));
}

int kiln_http_parse_request(kiln_http_request_t *req, const char *buf_in, size_t len,
    kiln_http_header_t *headers, size_t max_headers, const kiln_http_limits_t *lim) {
    if (req->s_state == S_DONE) {
        return req->head_len;
    }
    if (req->s_state == S_ERROR) {
        return -(int)req->s_status;
    }
    if (lim == NULL) {
        lim = &kiln_http_default_limits;
    }
    const uint8_t *buf = (const uint8_t *)buf_in;
    // Only the first max_head bytes can belong to the head.
    size_t end = len < lim->max_head ? len : lim->max_head;
    size_t p = req->s_pos, line = req->s_line, nh = req->num_headers;
    uint8_t state = req->s_state;
    int status = 0;
    uint16_t bare_lf = 0; // SEEN_BARE_LF once a bare LF ended a line in this call
    uint8_t c;

    for (;;) {
        switch (state) {
            case S_START:
                while (p < end && buf[p] == '\n') {
                    BARE_LF();
                    p++;
                }
                if (p == end) {
                    goto need_more;
                }
                if (buf[p] == '\r') {
                    p++;
                    state = S_START_CR;
                    break;
                }
                line = p;
                req->method_off = p;
                state = S_METHOD;
                // fall through
            case S_METHOD:
                while (p < end && IS(buf[p], C_TOK)) {
                    p++;
                }
                if (p == end) {
                    goto need_more;
                }
                if (buf[p] != ' ' || p == line) {
                    goto bad;
                }
                req->method_len = p - line;
                req->method = method_id(buf + line, p - line);
                req->target_off = ++p;
                state = S_TARGET;
                // fall through
            case S_TARGET:
                while (p < end && IS(buf[p], C_TGT)) {
                    p++;
                }
                if (p == end) {
                    goto need_more;
                }
                if (buf[p] != ' ' || p == req->target_off) {
                    goto bad;
                }
                req->target_len = p - req->target_off;
                p++;
                state = S_VERSION;
                // fall through
            case S_VERSION:
                // "HTTP/d.d" then CR or LF; each byte is checked as soon as it arrives.
                for (size_t k = 0; k < 9; k++) {
                    if (p + k == end) {
                        goto need_more;
                    }
                    c = buf[p + k];
                    uint8_t want = "HTTP/0.0\n"[k];
                    if (want == '0' ? (uint8_t)(c - '0') > 9 : want == '\n' ? (c != '\r' && c != '\n') : c != want) {
                        goto bad;
                    }
                }
                p += 8;
                if (p - line > lim->max_request_line) {
                    status = 414;
                    goto fail;
                }
                p++;
                if (c == '\r') {
                    state = S_RL_CR;
                    break;
                }
                BARE_LF();
                goto request_line_end;
            case S_RL_CR:
                if (p == end) {
                    goto need_more;
                }
                if (buf[p++] != '\n') {
                    goto bad;
                }
            request_line_end:
                if ((status = request_line_done(req, buf, lim)) != 0) {
                    goto fail;
                }
                line = p;
                state = S_LINE;
                // fall through
            case S_LINE:
                if (p == end) {
                    goto need_more;
                }
                c = buf[p];
                if (c == '\r') {
                    p++;
                    state = S_END_CR;
                    break;
                }
                if (c == '\n') {
                    p++;
                    BARE_LF();
                    goto head_end;
                }
                if (!IS(c, C_TOK)) {
                    goto bad; // obs-fold, whitespace before the first header, bad name
                }
                state = S_NAME;
                // fall through
            case S_NAME:
                while (p < end && IS(buf[p], C_TOK)) {
                    p++;
                }
                if (p == end) {
                    goto need_more;
                }
                if (buf[p] != ':') {
                    goto bad; // whitespace before the colon, or a non-token character
                }
                if (nh >= max_headers) {
                    status = 431;
                    goto fail;
                }
                headers[nh].name_off = line;
                headers[nh].name_len = p - line;
                p++;
                state = S_OWS;
                // fall through
            case S_OWS:
                while (p < end && is_ows(buf[p])) {
                    p++;
                }
                if (p == end) {
                    goto need_more;
                }
                req->s_mark = p;
                state = S_VALUE;
                // fall through
            case S_VALUE:
                while (p < end && IS(buf[p], C_VAL)) {
                    p++;
                }
                if (p == end) {
                    goto need_more;
                }
                c = buf[p];
                if (c != '\r' && c != '\n') {
                    goto bad; // a control character
                }
                if (p - line > lim->max_header_line) {
                    status = 431;
                    goto fail;
                }
                {
                    // Store the value without trailing whitespace.
                    kiln_http_header_t *h = &headers[nh];
                    size_t vs = req->s_mark, ve = p;
                    while (ve > vs && is_ows(buf[ve - 1])) {
                        ve--;
                    }
                    h->value_off = vs;
                    h->value_len = ve - vs;
                    req->num_headers = ++nh;
                    status = header_semantics(req, buf + h->name_off, h->name_len, buf + vs, ve - vs, vs);
                    if (status) {
                        goto fail;
                    }
                }
                p++;
                if (c == '\r') {
                    state = S_VALUE_CR;
                    break;
                }
                BARE_LF();
                line = p;
                state = S_LINE;
                break;
            case S_VALUE_CR:
                if (p == end) {
                    goto need_more;
                }
                if (buf[p++] != '\n') {
                    goto bad;
                }
                line = p;
                state = S_LINE;
                break;
            case S_END_CR:
                if (p == end) {
                    goto need_more;
                }
                if (buf[p++] != '\n') {
                    goto bad;
                }
                goto head_end;
            case S_START_CR:
                if (p == end) {
                    goto need_more;
                }
                if (buf[p++] != '\n') {
                    goto bad;
                }
                state = S_START;
                break;
        }
    }

need_more:
    // Out of bytes: refuse now if the current line or the head is already too long.
    if (state >= S_METHOD && state <= S_VERSION && end - line > lim->max_request_line) {
        status = 414;
        goto fail;
    }
    if (state >= S_NAME && state <= S_VALUE && p - line > lim->max_header_line) {
        status = 431;
        goto fail;
    }
    if (len >= lim->max_head) {
        status = (state >= S_METHOD && state <= S_VERSION) ? 414 : 431;
        goto fail;
    }
    req->s_pos = p;
    req->s_line = line;
    req->s_state = state;
    req->s_seen |= bare_lf;
    return KILN_HTTP_INCOMPLETE;

head_end:
    if (((req->s_seen | bare_lf) & SEEN_BARE_LF)
        && (!(lim->allow & KILN_HTTP_ALLOW_BARE_LF) || memchr(buf, '\r', p))) {
        goto bad;
    }
    if ((status = head_done(req, lim)) != 0) {
        goto fail;
    }
    req->head_len = p;
    req->s_pos = p;
    req->s_state = S_DONE;
    return (int)p;

bad:
    status = 400;
fail:
    req->s_status = status;
    req->s_state = S_ERROR;
    return -status;
}

// --- chunked bodies -------------------------------------------------------------------------

enum {
    CH_SIZE = 0,    // hex digits of a chunk size
    CH_SIZE_WS,     // whitespace after the size, before ';'
    CH_EXT_NAME0,   // after ';': whitespace, then the extension's name (a token)
    CH_EXT_NAME,    // in the name
    CH_EXT_NAME_WS, // whitespace after a name: more, '=', ';', line end
    CH_EXT_AFTER,   // after a value: whitespace, ';', line end
    CH_EXT_VALUE0,  // after '=': whitespace, then a token or a quoted string
    CH_EXT_TOKEN,   // in a token value
    CH_EXT_QUOTED,  // in a quoted string
    CH_EXT_ESCAPE,  // after a backslash in a quoted string
    CH_SIZE_LF,
    CH_DATA,
    CH_DATA_END,    // CR or LF after the data
    CH_DATA_LF,
    CH_TRAILER,     // start of a trailer line, or of the final empty line
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF,
    CH_DONE,
    CH_ERROR,
};

// The states that follow a CR, and dec->line_ends bits.
#define CR_STATES ((1u << CH_SIZE_LF) | (1u << CH_DATA_LF) | (1u << CH_TRAILER_LF) | (1u << CH_END_LF))
#define LE_CRLF (1)
#define LE_BARE_LF (2)
_Static_assert(CH_ERROR < 32, "CR_STATES is a 32-bit mask of states");

static int hex_value(uint8_t c) {
    return c <= '9' ? c - '0' : lower(c) - 'a' + 10;
}

int kiln_http_decode_chunked(kiln_http_chunked_t *dec, char *buf_in, size_t *len,
    const kiln_http_limits_t *lim) {
    uint8_t *buf = (uint8_t *)buf_in;
    size_t n = *len, i = 0, o = 0;
    uint32_t remaining = dec->remaining, total = dec->total;
    size_t line_len = dec->line_len, trailer_len = dec->trailer_len;
    uint16_t ends = dec->line_ends;
    uint8_t state = dec->state;
    int status;
    if (lim == NULL) {
        lim = &kiln_http_default_limits;
    }
    if (state == CH_ERROR) {
        *len = 0;
        return -(int)line_len; // the status is kept in line_len once failed
    }
    while (state != CH_DONE && i < n) {
        if (state == CH_DATA) {
            size_t k = n - i;
            if (k > remaining) {
                k = remaining;
            }
            memmove(buf + o, buf + i, k);
            o += k;
            i += k;
            remaining -= k;
            total += k;
            if (remaining == 0) {
                state = CH_DATA_END;
            }
            continue;
        }
        uint8_t c = buf[i++];
        if (c == '\n') {
            // Every LF outside the data ends a line (or is refused by the state below): bare
            // unless the state is the one after a CR.
            ends |= (1u << state) & CR_STATES ? LE_CRLF : LE_BARE_LF;
            if (ends == (LE_CRLF | LE_BARE_LF)
                || ((ends & LE_BARE_LF) && !(lim->allow & KILN_HTTP_ALLOW_BARE_LF))) {
                goto bad;
            }
        }
        // Size lines and trailer lines are bounded.
        if (state < CH_DATA_END || state >= CH_TRAILER) {
            if (++line_len > lim->max_header_line) {
                status = 431;
                goto fail;
            }
            if (state >= CH_TRAILER && ++trailer_len > lim->max_head) {
                status = 431;
                goto fail;
            }
        }
        switch (state) {
            case CH_SIZE:
                if (IS(c, C_HEX)) {
                    if (remaining > 0x0fffffff) {
                        goto bad;
                    }
                    remaining = (remaining << 4) | hex_value(c);
                } else if (line_len == 1) {
                    goto bad; // no digit
                } else if (c == ';') {
                    state = CH_EXT_NAME0;
                } else if (is_ows(c)) {
                    state = CH_SIZE_WS;
                } else if (c == '\r') {
                    state = CH_SIZE_LF;
                } else if (c == '\n') {
                    goto size_line_end;
                } else {
                    goto bad;
                }
                break;
            case CH_SIZE_WS:
                if (c == ';') {
                    state = CH_EXT_NAME0;
                } else if (!is_ows(c)) {
                    goto bad;
                }
                break;
            // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
            case CH_EXT_NAME0:
            case CH_EXT_VALUE0:
                if (IS(c, C_TOK)) {
                    state = state == CH_EXT_NAME0 ? CH_EXT_NAME : CH_EXT_TOKEN;
                } else if (c == '"' && state == CH_EXT_VALUE0) {
                    state = CH_EXT_QUOTED;
                } else if (!is_ows(c)) {
                    goto bad; // an empty name or value
                }
                break;
            case CH_EXT_NAME:
            case CH_EXT_TOKEN:
                if (IS(c, C_TOK)) {
                    break;
                }
                state = state == CH_EXT_NAME ? CH_EXT_NAME_WS : CH_EXT_AFTER;
                // fall through
            case CH_EXT_NAME_WS:
                if (c == '=' && state == CH_EXT_NAME_WS) {
                    state = CH_EXT_VALUE0;
                    break;
                }
                // fall through
            case CH_EXT_AFTER:
                if (c == ';') {
                    state = CH_EXT_NAME0;
                } else if (c == '\r') {
                    state = CH_SIZE_LF;
                } else if (c == '\n') {
                    goto size_line_end;
                } else if (!is_ows(c)) {
                    goto bad; // a second '=', a stray character
                }
                break;
            case CH_EXT_QUOTED:
                if (c == '"') {
                    state = CH_EXT_AFTER;
                } else if (c == '\\') {
                    state = CH_EXT_ESCAPE;
                } else if (!IS(c, C_VAL)) {
                    goto bad; // a control character, or the line ended inside the quotes
                }
                break;
            case CH_EXT_ESCAPE:
                if (!IS(c, C_VAL)) {
                    goto bad;
                }
                state = CH_EXT_QUOTED;
                break;
            case CH_SIZE_LF:
                if (c != '\n') {
                    goto bad;
                }
            size_line_end:
                if (remaining > lim->max_body - total) {
                    status = 413;
                    goto fail;
                }
                line_len = 0;
                state = remaining ? CH_DATA : CH_TRAILER;
                break;
            case CH_DATA_END:
            case CH_DATA_LF:
                if (c == '\r' && state == CH_DATA_END) {
                    state = CH_DATA_LF;
                    break;
                }
                if (c != '\n') {
                    goto bad;
                }
                state = CH_SIZE;
                break;
            case CH_TRAILER:
                if (c == '\r') {
                    state = CH_END_LF;
                } else if (c == '\n') {
                    goto done;
                } else if (IS(c, C_TOK)) {
                    state = CH_TRAILER_NAME;
                } else {
                    goto bad; // obs-fold, or not a field name
                }
                break;
            case CH_TRAILER_NAME:
                if (c == ':') {
                    state = CH_TRAILER_VALUE;
                } else if (!IS(c, C_TOK)) {
                    goto bad;
                }
                break;
            case CH_TRAILER_VALUE:
                if (c == '\r') {
                    state = CH_TRAILER_LF;
                    break;
                }
                if (IS(c, C_VAL)) {
                    break;
                }
                // LF ends the line, anything else is refused.
                // fall through
            case CH_TRAILER_LF:
                if (c != '\n') {
                    goto bad;
                }
                state = CH_TRAILER;
                line_len = 0;
                break;
            default: // CH_END_LF
                if (c != '\n') {
                    goto bad;
                }
                goto done;
        }
    }
    if (state != CH_DONE) {
        dec->remaining = remaining;
        dec->total = total;
        dec->line_len = line_len;
        dec->trailer_len = trailer_len;
        dec->line_ends = ends;
        dec->state = state;
        *len = o;
        return KILN_HTTP_INCOMPLETE;
    }
done:
    dec->state = CH_DONE;
    memmove(buf + o, buf + i, n - i);
    *len = o;
    return (int)(n - i);

bad:
    status = 400;
fail:
    dec->state = CH_ERROR;
    dec->line_len = status;
    *len = o;
    return -status;
}

// --- percent decoding, query strings, header lookup ------------------------------------------

size_t kiln_http_url_decode(char *dst, const char *src, size_t len, int plus) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = src[i];
        if (c == '%' && len - i > 2 && IS(src[i + 1], C_HEX) && IS(src[i + 2], C_HEX)) {
            c = (hex_value(src[i + 1]) << 4) | hex_value(src[i + 2]);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        dst[o++] = c;
    }
    return o;
}

int kiln_http_url_needs_decode(const char *src, size_t len, int plus) {
    return memchr(src, '%', len) != NULL || (plus && memchr(src, '+', len) != NULL);
}

int kiln_http_query_next(const char *qs, size_t len, size_t *pos,
    kiln_http_span_t *name, kiln_http_span_t *value) {
    while (*pos < len) {
        size_t s = *pos;
        const char *amp = memchr(qs + s, '&', len - s);
        size_t e = amp ? (size_t)(amp - qs) : len;
        *pos = amp ? e + 1 : len;
        if (e == s) {
            continue;
        }
        const char *eq = memchr(qs + s, '=', e - s);
        size_t ne = eq ? (size_t)(eq - qs) : e;
        name->off = s;
        name->len = ne - s;
        value->off = eq ? ne + 1 : e;
        value->len = eq ? e - ne - 1 : 0;
        return 1;
    }
    return 0;
}

int kiln_http_field_ok(const char *s, size_t n, int value) {
    uint8_t cls = value ? C_VAL : C_TOK;
    for (size_t i = 0; i < n; i++) {
        if (!IS(s[i], cls)) {
            return 0;
        }
    }
    return n > 0 || value;
}

int kiln_http_find_header(const char *buf, const kiln_http_header_t *headers, size_t num_headers,
    size_t from, const char *name, size_t name_len) {
    for (size_t i = from; i < num_headers; i++) {
        if (headers[i].name_len == name_len && kiln_http_casecmp(buf + headers[i].name_off, name, name_len)) {
            return (int)i;
        }
    }
    return -1;
}
