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
// (VCHAR, obs-text, SP, HTAB), a request-target character (VCHAR but '#'), a hex digit.
#define C_TOK (1)
#define C_VAL (2)
#define C_TGT (4)
#define C_HEX (8)

static const uint8_t char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 7, 6, 3, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6, 6, 6, 6, 6, 6,
    6, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,
    7, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,
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

static const char *const method_names[] = {
    NULL, "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
};

const char *kiln_http_method_name(int method) {
    if (method <= KILN_HTTP_OTHER || method > KILN_HTTP_TRACE) {
        return NULL;
    }
    return method_names[method];
}

const char *kiln_http_reason(int status) {
    switch (status) {
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 431:
            return "Request Header Fields Too Large";
        case 501:
            return "Not Implemented";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Bad Request";
    }
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

// s[0..n) equals the lower-case literal lit (of length n).
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

// Calls fn(req, element, length) for each non-empty element of a comma-separated list,
// with surrounding whitespace removed; stops at the first nonzero result and returns it.
typedef int (*list_fn_t)(kiln_http_request_t *req, const uint8_t *e, size_t n);
static int each_element(kiln_http_request_t *req, const uint8_t *v, size_t n, list_fn_t fn) {
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        while (i < n && v[i] != ',') {
            i++;
        }
        size_t e = i++;
        while (s < e && is_ows(v[s])) {
            s++;
        }
        while (e > s && is_ows(v[e - 1])) {
            e--;
        }
        if (e > s) {
            int r = fn(req, v + s, e - s);
            if (r) {
                return r;
            }
        }
    }
    return 0;
}

static int connection_token(kiln_http_request_t *req, const uint8_t *e, size_t n) {
    if (EQ(e, n, "close")) {
        req->s_seen |= CONN_CLOSE;
    } else if (EQ(e, n, "keep-alive")) {
        req->s_seen |= CONN_KEEP_ALIVE;
    } else if (EQ(e, n, "upgrade")) {
        req->s_seen |= CONN_UPGRADE;
    }
    return 0;
}

static int transfer_coding(kiln_http_request_t *req, const uint8_t *e, size_t n) {
    if (req->s_seen & TE_CHUNKED_LAST) {
        return 400; // chunked applied twice, or not the final coding
    }
    req->s_seen |= EQ(e, n, "chunked") ? TE_CHUNKED_LAST : TE_OTHER;
    return 0;
}

static int content_length(kiln_http_request_t *req, const uint8_t *e, size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t d = e[i] - '0';
        if (d > 9 || v > (UINT32_MAX - d) / 10) {
            return 400; // not a number, or too large to represent
        }
        v = v * 10 + d;
    }
    if ((req->s_seen & SEEN_CL) && v != req->content_length) {
        return 400;
    }
    req->s_seen |= SEEN_CL;
    req->content_length = v;
    return 0;
}

// Takes note of the framing headers; returns 0 or an error status.
static int header_semantics(kiln_http_request_t *req, const uint8_t *name, size_t nl,
    const uint8_t *v, size_t vl, size_t voff) {
    switch (nl) {
        case 4:
            if (EQ(name, nl, "host")) {
                if (req->s_seen & SEEN_HOST) {
                    return 400;
                }
                req->s_seen |= SEEN_HOST;
                for (size_t i = 0; i < vl; i++) {
                    if (v[i] == ' ' || v[i] == '\t' || v[i] == ',' || v[i] == '/') {
                        return 400;
                    }
                }
            }
            break;
        case 6:
            if (EQ(name, nl, "expect") && EQ(v, vl, "100-continue")) {
                req->flags |= KILN_HTTP_F_EXPECT_CONTINUE;
            }
            break;
        case 7:
            if (EQ(name, nl, "upgrade") && req->upgrade_off == 0) {
                req->upgrade_off = voff;
                req->upgrade_len = vl;
            }
            break;
        case 10:
            if (EQ(name, nl, "connection")) {
                each_element(req, v, vl, connection_token);
            }
            break;
        case 14:
            if (EQ(name, nl, "content-length")) {
                if (vl == 0) {
                    return 400;
                }
                // A list of identical values is accepted (RFC 9112 6.3); an empty element is not.
                size_t s = 0;
                for (size_t i = 0; i <= vl; i++) {
                    if (i == vl || v[i] == ',') {
                        size_t a = s, b = i;
                        while (a < b && is_ows(v[a])) {
                            a++;
                        }
                        while (b > a && is_ows(v[b - 1])) {
                            b--;
                        }
                        if (a == b || content_length(req, v + a, b - a)) {
                            return 400;
                        }
                        s = i + 1;
                    }
                }
            }
            break;
        case 17:
            if (EQ(name, nl, "transfer-encoding")) {
                req->s_seen |= SEEN_TE;
                return each_element(req, v, vl, transfer_coding);
            }
            break;
    }
    return 0;
}

// Splits the request-target into path and query; returns 0 or 400.
static int classify_target(kiln_http_request_t *req, const uint8_t *buf) {
    const uint8_t *t = buf + req->target_off;
    size_t n = req->target_len, path = 0;
    if (t[0] == '/') {
        // origin-form
        if (req->method == KILN_HTTP_CONNECT) {
            return 400;
        }
    } else if (n == 1 && t[0] == '*') {
        // asterisk-form: OPTIONS only
        if (req->method != KILN_HTTP_OPTIONS) {
            return 400;
        }
        req->path_off = req->target_off;
        req->path_len = 1;
        return 0;
    } else if (req->method == KILN_HTTP_CONNECT) {
        // authority-form: host:port
        if (memchr(t, '/', n) || memchr(t, '?', n) || memchr(t, '@', n) || !memchr(t, ':', n)) {
            return 400;
        }
        req->path_off = req->target_off;
        req->path_len = n;
        return 0;
    } else {
        // absolute-form: scheme "://" authority [path] ["?" query]
        size_t i = 0;
        while (i < n && (is_alpha(t[i])
                         || (i > 0 && ((t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' || t[i] == '.')))) {
            i++;
        }
        if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0) {
            return 400;
        }
        i += 3;
        while (i < n && t[i] != '/' && t[i] != '?') {
            i++;
        }
        path = i;
    }
    const uint8_t *q = memchr(t + path, '?', n - path);
    size_t path_end = q ? (size_t)(q - t) : n;
    req->path_off = req->target_off + path;
    req->path_len = path_end - path;
    if (q) {
        req->flags |= KILN_HTTP_F_QUERY;
        req->query_off = req->target_off + path_end + 1;
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
    uint8_t m = req->method;
    if ((m == KILN_HTTP_OTHER && !(lim->allow & KILN_HTTP_ALLOW_CUSTOM))
        || (m == KILN_HTTP_CONNECT && !(lim->allow & KILN_HTTP_ALLOW_CONNECT))
        || (m == KILN_HTTP_TRACE && !(lim->allow & KILN_HTTP_ALLOW_TRACE))) {
        return 501;
    }
    return classify_target(req, buf);
}

// Checks done once the head is complete; returns 0 or an error status.
static int head_done(kiln_http_request_t *req, const kiln_http_limits_t *lim) {
    uint8_t seen = req->s_seen;
    if (seen & SEEN_TE) {
        if (req->minor_version == 0 || (seen & SEEN_CL) || !(seen & TE_CHUNKED_LAST)) {
            return 400;
        }
        if (seen & TE_OTHER) {
            return 501; // a coding before chunked that Kiln cannot undo
        }
        req->flags |= KILN_HTTP_F_CHUNKED;
    }
    if (req->minor_version == 1 && !(seen & SEEN_HOST)) {
        return 400;
    }
    if (seen & SEEN_CL) {
        if (req->content_length > lim->max_body) {
            return 413;
        }
        req->flags |= KILN_HTTP_F_CONTENT_LENGTH;
    }
    if (req->minor_version == 1) {
        if (!(seen & CONN_CLOSE)) {
            req->flags |= KILN_HTTP_F_KEEP_ALIVE;
        }
        if ((seen & CONN_UPGRADE) && req->upgrade_off) {
            req->flags |= KILN_HTTP_F_UPGRADE;
        }
    } else {
        req->flags &= ~KILN_HTTP_F_EXPECT_CONTINUE;
        if ((seen & (CONN_KEEP_ALIVE | CONN_CLOSE)) == CONN_KEEP_ALIVE) {
            req->flags |= KILN_HTTP_F_KEEP_ALIVE;
        }
    }
    if (!(req->flags & KILN_HTTP_F_UPGRADE)) {
        req->upgrade_off = req->upgrade_len = 0;
    }
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
    size_t p = req->s_pos, line = req->s_line;
    uint8_t state = req->s_state;
    int status = 0;
    uint8_t c;

    for (;;) {
        switch (state) {
            case S_START:
                while (p < end && buf[p] == '\n') {
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
                    if (k < 5 ? c != (uint8_t)"HTTP/"[k]
                        : k == 6 ? c != '.'
                        : k == 8 ? (c != '\r' && c != '\n')
                        : (c < '0' || c > '9')) {
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
                if (req->num_headers >= max_headers) {
                    status = 431;
                    goto fail;
                }
                headers[req->num_headers].name_off = line;
                headers[req->num_headers].name_len = p - line;
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
                    kiln_http_header_t *h = &headers[req->num_headers];
                    size_t vs = req->s_mark, ve = p;
                    while (ve > vs && is_ows(buf[ve - 1])) {
                        ve--;
                    }
                    h->value_off = vs;
                    h->value_len = ve - vs;
                    req->num_headers++;
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
    return KILN_HTTP_INCOMPLETE;

head_end:
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
    CH_EXT,         // a chunk extension, skipped
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

static int hex_value(uint8_t c) {
    return c <= '9' ? c - '0' : lower(c) - 'a' + 10;
}

int kiln_http_decode_chunked(kiln_http_chunked_t *dec, char *buf_in, size_t *len,
    const kiln_http_limits_t *lim) {
    uint8_t *buf = (uint8_t *)buf_in;
    size_t n = *len, i = 0, o = 0;
    int status = 0;
    if (lim == NULL) {
        lim = &kiln_http_default_limits;
    }
    if (dec->state == CH_ERROR) {
        *len = 0;
        return -(int)dec->line_len; // the status is kept in line_len once failed
    }
    if (dec->state == CH_DONE) {
        goto done;
    }
    while (i < n) {
        uint8_t c = buf[i];
        switch (dec->state) {
            case CH_SIZE:
                if (IS(c, C_HEX)) {
                    if (dec->remaining > 0x0fffffff) {
                        goto bad;
                    }
                    dec->remaining = (dec->remaining << 4) | hex_value(c);
                    dec->digits = 1;
                    i++;
                    break;
                }
                if (!dec->digits) {
                    goto bad;
                }
                if (c == ';') {
                    dec->state = CH_EXT;
                } else if (is_ows(c)) {
                    dec->state = CH_SIZE_WS;
                } else if (c == '\r') {
                    dec->state = CH_SIZE_LF;
                } else if (c == '\n') {
                    goto size_line_end;
                } else {
                    goto bad;
                }
                i++;
                break;
            case CH_SIZE_WS:
                if (c == ';') {
                    dec->state = CH_EXT;
                } else if (!is_ows(c)) {
                    goto bad;
                }
                i++;
                break;
            case CH_EXT:
                if (c == '\r') {
                    dec->state = CH_SIZE_LF;
                } else if (c == '\n') {
                    goto size_line_end;
                } else if (!IS(c, C_VAL)) {
                    goto bad;
                }
                i++;
                break;
            case CH_SIZE_LF:
                if (c != '\n') {
                    goto bad;
                }
            size_line_end:
                i++;
                if (dec->remaining > lim->max_body - dec->total) {
                    status = 413;
                    goto fail;
                }
                dec->line_len = 0;
                dec->digits = 0;
                dec->state = dec->remaining ? CH_DATA : CH_TRAILER;
                continue; // the line length check below does not apply to this byte
            case CH_DATA: {
                size_t k = n - i;
                if (k > dec->remaining) {
                    k = dec->remaining;
                }
                memmove(buf + o, buf + i, k);
                o += k;
                i += k;
                dec->remaining -= k;
                dec->total += k;
                if (dec->remaining == 0) {
                    dec->state = CH_DATA_END;
                }
                continue;
            }
            case CH_DATA_END:
                if (c == '\r') {
                    dec->state = CH_DATA_LF;
                } else if (c == '\n') {
                    dec->state = CH_SIZE;
                } else {
                    goto bad;
                }
                i++;
                continue;
            case CH_DATA_LF:
                if (c != '\n') {
                    goto bad;
                }
                dec->state = CH_SIZE;
                i++;
                continue;
            case CH_TRAILER:
                if (c == '\r') {
                    dec->state = CH_END_LF;
                    i++;
                    break;
                }
                if (c == '\n') {
                    i++;
                    goto done;
                }
                if (!IS(c, C_TOK)) {
                    goto bad;
                }
                dec->state = CH_TRAILER_NAME;
                i++;
                break;
            case CH_TRAILER_NAME:
                if (c == ':') {
                    dec->state = CH_TRAILER_VALUE;
                } else if (!IS(c, C_TOK)) {
                    goto bad;
                }
                i++;
                break;
            case CH_TRAILER_VALUE:
                if (c == '\r') {
                    dec->state = CH_TRAILER_LF;
                } else if (c == '\n') {
                    dec->state = CH_TRAILER;
                    dec->line_len = 0;
                } else if (!IS(c, C_VAL)) {
                    goto bad;
                }
                i++;
                break;
            case CH_TRAILER_LF:
                if (c != '\n') {
                    goto bad;
                }
                dec->state = CH_TRAILER;
                dec->line_len = 0;
                i++;
                break;
            case CH_END_LF:
                if (c != '\n') {
                    goto bad;
                }
                i++;
                goto done;
            default: // CH_DONE: nothing more belongs to this body
                goto done;
        }
        // A byte of a size line or a trailer line was consumed: bound those lines.
        if (++dec->line_len > lim->max_header_line) {
            status = 431;
            goto fail;
        }
        if (dec->state >= CH_TRAILER && ++dec->trailer_len > lim->max_head) {
            status = 431;
            goto fail;
        }
    }
    *len = o;
    return KILN_HTTP_INCOMPLETE;

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

int kiln_http_find_header(const char *buf, const kiln_http_header_t *headers, size_t num_headers,
    size_t from, const char *name, size_t name_len) {
    for (size_t i = from; i < num_headers; i++) {
        if (headers[i].name_len == name_len && kiln_http_casecmp(buf + headers[i].name_off, name, name_len)) {
            return (int)i;
        }
    }
    return -1;
}
