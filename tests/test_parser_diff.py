"""Differential check: a fixed corpus of requests parsed by Kiln's parser (_kiln.Parser, inside
the firmware) and by h11 (the venv's reference) must agree on accept/reject and on the parsed
fields, except for the cases listed in DIVERGENCES, where Kiln chooses differently on purpose."""

import ast

import h11
import pytest

CASES = [
    # valid shapes
    ("minimal", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("http10", b"GET /x HTTP/1.0\r\n\r\n"),
    ("http10-host", b"GET /x HTTP/1.0\r\nHost: a\r\n\r\n"),
    ("bare-lf", b"GET / HTTP/1.1\nHost: a\n\n"),
    ("mixed-line-ends", b"GET / HTTP/1.1\r\nHost: a\n\r\n"),
    ("head", b"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("delete", b"DELETE /d/1 HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("options", b"OPTIONS /o HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("options-star", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("query", b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("escapes", b"GET /%7Euser/a%20b HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("odd-target-chars", b"GET /\"<>{}|\\^`[] HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("absolute-form", b"GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n"),
    ("post-length", b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
    ("post-length-zero", b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
    ("put-length", b"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"),
    ("patch-length", b"PATCH /f HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"),
    ("length-repeated", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
    ("length-list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc"),
    ("length-leading-zero", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 003\r\n\r\nabc"),
    ("chunked", b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    (
        "chunked-many",
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n0123456789\r\nA\r\nabcdefghij\r\n1\r\nZ\r\n0\r\n\r\n",
    ),
    ("chunked-ext", b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0;x\r\n\r\n"),
    (
        "chunked-trailers",
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\nU: 2\r\n\r\n",
    ),
    ("chunked-case", b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"),
    ("chunked-bare-lf", b"POST /c HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n"),
    (
        "chunked-upper-hex",
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nB\r\nhello world\r\n0\r\n\r\n",
    ),
    ("connection-close", b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
    ("keep-alive-10", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    ("expect", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"),
    (
        "websocket",
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
    ("repeated-names", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=b; c=d\r\n\r\n"),
    ("value-whitespace", b"GET / HTTP/1.1\r\nHost: a\r\nX: \t v a l \t \r\nY:\r\nZ:   \r\n\r\n"),
    ("token-name", b"GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09azAZ: x\r\n\r\n"),
    ("utf8-value", b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n"),
    ("empty-host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n"),
    ("ipv6-host", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
    ("incomplete-head", b"GET / HTTP/1.1\r\nHost: a\r\n"),
    ("incomplete-body", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"),
    ("incomplete-chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
    (
        "browser",
        b"GET /index.html?lang=en HTTP/1.1\r\nHost: 192.168.4.1\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
        b"Cookie: session=abc123; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\nCache-Control: max-age=0\r\n\r\n",
    ),
    # rejected by both
    ("double-space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("space-after-version", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
    ("leading-space", b" GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("http09", b"GET /\r\n\r\n"),
    ("lowercase-http", b"GET / http/1.1\r\nHost: a\r\n\r\n"),
    ("bad-version", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
    ("bad-method-char", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("ctl-in-target", b"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("non-ascii-target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
    ("tab-before-colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
    ("space-before-first-header", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
    ("empty-name", b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n"),
    ("bad-name-char", b"GET / HTTP/1.1\r\nHost: a\r\nX(: 1\r\n\r\n"),
    ("no-colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
    ("ctl-in-value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n"),
    ("nul-in-value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"),
    ("del-in-value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"),
    ("bare-cr-in-value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
    ("cl-and-te", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("cl-differ", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    ("cl-list-differ", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!"),
    ("cl-negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
    ("cl-plus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx"),
    ("cl-hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n"),
    ("cl-empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n"),
    ("te-gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
    ("te-chunked-gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
    ("te-gzip-chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    ("no-host", b"GET / HTTP/1.1\r\n\r\n"),
    ("two-hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    ("chunk-bad-size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("chunk-no-crlf", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n"),
    ("chunk-ext-empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\nhi\r\n0\r\n\r\n"),
    (
        "chunk-ext-unbalanced-quote",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\"b\r\nhi\r\n0\r\n\r\n",
    ),
    (
        "smuggle-mixed-lf",
        b"POST / HTTP/1.1\r\nHost: a\r\nDummy: x\nContent-Length: 23\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
    ),
    ("chunk-negative", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
    # Kiln's choices (DIVERGENCES)
    ("leading-empty-lines", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  continued\r\n\r\n"),
    ("custom-method", b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("lowercase-method", b"get / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("trace", b"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("connect", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"),
    ("http2", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
    ("http12", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
    ("fragment", b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("relative-target", b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("star-not-options", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
    ("host-with-space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
    ("host-with-slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
    ("te-in-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("chunk-size-bws", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n"),
    ("cl-over-limit", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n"),
]

# Where Kiln parts from h11 on purpose: (what happens, why). "kiln-rejects": Kiln refuses what h11
# accepts or waits on; "kiln-accepts": Kiln parses what h11 refuses or waits on; "fields": both
# accept with different parsed fields.
DIVERGENCES = {
    "leading-empty-lines": ("kiln-accepts", "RFC 9112 2.2: a server SHOULD ignore empty lines before the request"),
    "obs-fold": ("kiln-rejects", "obs-fold is refused (issue: reject obs-fold); h11 unfolds it"),
    "custom-method": ("kiln-rejects", "unknown methods get 501 unless custom methods are allowed"),
    "lowercase-method": ("kiln-rejects", "methods are case-sensitive: 'get' is an unknown method, 501"),
    "trace": ("kiln-rejects", "TRACE is answered 501 unless allowed"),
    "connect": ("kiln-rejects", "CONNECT is answered 501 unless allowed"),
    "http2": ("kiln-rejects", "an HTTP major version other than 1 gets 505"),
    "http12": ("fields", "HTTP/1.2 is served as 1.1, the highest minor version Kiln speaks"),
    "fragment": ("kiln-rejects", "a request-target has no fragment (RFC 9112 3.2)"),
    "relative-target": ("kiln-rejects", "the target must be origin-, absolute-, authority- or asterisk-form"),
    "star-not-options": ("kiln-rejects", "the asterisk form is for OPTIONS only (RFC 9112 3.2.4)"),
    "host-with-space": ("kiln-rejects", "an invalid Host value gets 400 (RFC 9112 3.2)"),
    "host-with-slash": ("kiln-rejects", "an invalid Host value gets 400 (RFC 9112 3.2)"),
    "te-in-http10": ("kiln-rejects", "Transfer-Encoding in HTTP/1.0 means faulty framing (RFC 9112 6.1)"),
    "chunk-size-bws": ("kiln-accepts", "RFC 9112 7.1.1 allows whitespace (BWS) before a chunk extension"),
    "cl-over-limit": ("kiln-rejects", "the body limit (64 KB by default): 413"),
    "bare-lf": ("kiln-rejects", "bare LF line ends are 400 unless lenient_lf=True (RFC 9112 2.2 MAY)"),
    "mixed-line-ends": ("kiln-rejects", "a head mixing bare LF with CRLF is 400: a smuggling shape"),
    "smuggle-mixed-lf": ("kiln-rejects", "h11 splits on the bare LF (a 23-byte body); a CRLF-only proxy: two requests"),
    "chunk-ext-empty": ("kiln-rejects", "a chunk extension needs a name: token [= token / quoted-string] (RFC 9112)"),
    "chunk-ext-unbalanced-quote": ("kiln-rejects", "a quoted chunk extension value ends in a quote (RFC 9112 7.1.1)"),
    "chunked-bare-lf": ("kiln-rejects", "bare LF line ends are 400 in chunked framing too, unless lenient_lf=True"),
    "ctl-in-value": ("kiln-rejects", "control characters are not field-vchars (RFC 9110 5.5)"),
    "del-in-value": ("kiln-rejects", "DEL is a control character, not a field-vchar (RFC 9110 5.5)"),
    "cl-and-te": ("kiln-rejects", "Content-Length with Transfer-Encoding is refused: request smuggling"),
}

KILN_SCRIPT = """
import _kiln
for name, raw in CASES:
    p = _kiln.Parser()
    try:
        r = p.feed(raw)
    except ValueError as e:
        print(repr((name, "reject", e.args[0])))
        continue
    if r is None:
        print(repr((name, "incomplete")))
        continue
    headers = [(n.lower(), v) for n, v in r.headers.items()]
    print(repr((name, "accept", r.method, r.target, r.http_version, headers, r.body, r.chunked)))
"""

# Header values h11 rewrites (it normalizes framing headers); compared through the body instead.
NORMALIZED = ("content-length", "transfer-encoding")

_kiln_results = {}


def h11_parse(raw):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    request, body = None, b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return ("incomplete",)
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
    except h11.RemoteProtocolError:
        return ("reject",)
    headers = [(n.decode(), v.decode("utf-8")) for n, v in request.headers]
    chunked = any(n == "transfer-encoding" for n, _ in headers)
    return (
        "accept",
        request.method.decode(),
        request.target.decode(),
        request.http_version.decode(),
        headers,
        body,
        chunked,
    )


@pytest.fixture
def kiln_results(upy, tmp_path):
    if not _kiln_results:
        script = tmp_path / "diffcases.py"
        script.write_text("CASES = %r\n%s" % (CASES, KILN_SCRIPT))
        proc = upy("import diffcases", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        for line in proc.stdout.splitlines():
            result = ast.literal_eval(line)
            _kiln_results[result[0]] = result[1:]
    return _kiln_results


def comparable(result):
    """The fields both parsers report, framing header values left out."""
    if result[0] != "accept":
        return result[:1]
    kind, method, target, version, headers, body, chunked = result
    headers = [(n, v) for n, v in headers if n not in NORMALIZED]
    return (kind, method, target, version, headers, body, chunked)


def test_corpus_names_are_unique_and_divergences_exist():
    names = [name for name, _ in CASES]
    assert len(names) == len(set(names))
    assert set(DIVERGENCES) <= set(names)


@pytest.mark.parametrize("name,raw", CASES, ids=[name for name, _ in CASES])
def test_agrees_with_h11(kiln_results, name, raw):
    ours = kiln_results[name]
    ref = h11_parse(raw)
    if name not in DIVERGENCES:
        assert comparable(ours) == comparable(ref)
        return
    kind, why = DIVERGENCES[name]
    if kind == "kiln-rejects":
        assert ours[0] == "reject" and ref[0] != "reject", why
    elif kind == "kiln-accepts":
        assert ours[0] == "accept" and ref[0] != "accept", why
    else:
        assert ours[0] == ref[0] == "accept" and comparable(ours) != comparable(ref), why
