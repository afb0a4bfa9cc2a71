"""A socket-level fuzzer for the running server (the socket loop, the binding, the parser).

Coverage-blind: it mutates recorded request sessions (byte flips, dictionary insertions, numbers
changed, CRLF/LF swapped, lines made oversized, sessions spliced into pipelines with garbage
between them) and sends them from several clients at once, split at random points, with random
pauses, aborting some mid-request (FIN or RST) and leaving some answers unread. Every few
seconds, and at the end, a clean request must be answered; the server must stay up, and the
firmware (the ASan build in `make test-asan`) must print no sanitizer report.

    python tests/fuzz/fuzz_server.py --seconds 30 --firmware firmware/UNIX_ASAN/kiln

Exit status 0 when all held; otherwise 1, with the console and the last sessions sent saved
in --out (build/fuzz-server).
"""

import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import sanitizer_report  # noqa: E402

APPS = {  # the app served, and what its "/" answers
    "loop": (ROOT / "tests" / "apps" / "server_features", b"Hello, World!"),
    "framework": (ROOT / "tests" / "apps" / "app_full", b"Hello, world!"),
}

H = b"Host: fuzz\r\n"
SEEDS = [
    b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /echo?a=1&b=%20 HTTP/1.1\r\n" + H + b"X-A: 1\r\nCookie: a=b; c=d\r\n\r\n",
    b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
    b"5;a=b\r\nhello\r\n6 ; q=\"x;y\"\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
    b"POST /echo HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD /stream HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /stream HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /agen HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /big HTTP/1.1\r\n" + H + b"\r\n",
    b"POST /upload HTTP/1.1\r\n" + H + b"Content-Length: 3000\r\n\r\n" + b"u" * 3000,
    b"POST /upload-ignored HTTP/1.1\r\n" + H + b"Content-Length: 2000\r\n\r\n" + b"i" * 2000,
    b"GET /cookies HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /close HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /nocontent HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /te?gen HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /te?gzip HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /header HTTP/1.1\r\n" + H + b"X-Obs: caf\xe9\r\n\r\n",
    b"GET /badheader HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /ctl-header?11 HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /raise HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /async-raise HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /switching HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /ws HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    b"GET http://fuzz/echo?x HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /nothing-here HTTP/1.1\r\n" + H + b"\r\n",
]

# Sessions for the framework app (tests/apps/app_full): routing, hooks, forms, uploads,
# sessions, auth, CSRF, CORS, static files, server-sent events.
FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"
MULTIPART = (b"--b7\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nT\r\n"
             b"--b7\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
             b"Content-Type: application/octet-stream\r\n\r\n" + b"\x00\x01f" * 700 + b"\r\n--b7--\r\n")
FRAMEWORK_SEEDS = [
    b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /items/42?a=1&a=2 HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /users/bob/files/a/b/c.txt HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /re/abc HTTP/1.1\r\n" + H + b"\r\n",
    b"POST /echo?a=%C3%A9 HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\nContent-Length: 13\r\n"
    b"Cookie: a=1; b=\"q\"\r\n\r\n{\"k\": [1, 2]}",
    b"POST /form HTTP/1.1\r\n" + H + FORM + b"Content-Length: 17\r\n\r\na=1&b=x+y&a=%C3%A9",
    b"POST /upload HTTP/1.1\r\n" + H + b"Content-Type: multipart/form-data; boundary=b7\r\n"
    b"Content-Length: %d\r\n\r\n" % len(MULTIPART) + MULTIPART,
    b"GET /async HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /stream HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /astream HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /events HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /file HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /static/style.css HTTP/1.1\r\n" + H + b"Accept-Encoding: gzip\r\nRange: bytes=2-9\r\n\r\n",
    b"GET /static/data.raw HTTP/1.1\r\n" + H + b"If-None-Match: \"x\"\r\n\r\n",
    b"GET /static/../main.py HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /redirect HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /bad-redirect?to=%0D%0Aevil HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /bad-header?v=a%0Bb HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /abort HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /boom HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /div HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /cookie HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /count HTTP/1.1\r\n" + H + b"Cookie: session=eyJkIjogeyJuIjogMX19.AAAA==\r\n\r\n",
    b"GET /private HTTP/1.1\r\n" + H + b"Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n",
    b"GET /bot HTTP/1.1\r\n" + H + b"Authorization: Bearer tok-123\r\n\r\n",
    b"OPTIONS /echo HTTP/1.1\r\n" + H + b"Origin: http://allowed.example\r\n"
    b"Access-Control-Request-Method: PUT\r\n\r\n",
    b"GET /trailing HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /api/ping?short=1 HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /forms/token HTTP/1.1\r\n" + H + b"\r\n",
    b"POST /forms/submit HTTP/1.1\r\n" + H + FORM + b"Content-Length: 13\r\n\r\nx=1&csrf_token",
    b"DELETE /items/1 HTTP/1.1\r\n" + H + b"\r\n",
]

TOKENS = [
    b"\r\n", b"\n", b"\r", b"\x00", b" ", b"\t", b":", b";", b",", b"=", b'"', b"\\", b"%", b"%ff",
    b"\r\n\r\n", b"0\r\n\r\n", b"Content-Length: 0\r\n", b"Content-Length: 99999999\r\n",
    b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n", b"Transfer-Encoding: gzip, chunked\r\n",
    b"Connection: close\r\n", b"Connection: keep-alive\r\n", b"Expect: 100-continue\r\n", H,
    b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"GET / HTTP/1.1\r\n", b"\xff\xfe", b"ffffffff\r\n",
    b"Dummy: x\nContent-Length: 23\r\n",
]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        at = rng.randint(0, len(data))
        if op == 0 and data:  # flip a byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1:  # insert a token
            data[at:at] = rng.choice(TOKENS)
        elif op == 2 and data:  # delete a range
            data[at:at + rng.randint(1, 16)] = b""
        elif op == 3 and data:  # duplicate a range
            a = rng.randrange(len(data))
            data[at:at] = data[a:a + rng.randint(1, 64)]
        elif op == 4:  # an oversized line
            data[at:at] = bytes([rng.choice(b"aX %/:\t")]) * rng.choice((1000, 2100, 4200, 9000))
        elif op == 5:  # change a number
            digits = [i for i, b in enumerate(data) if 0x30 <= b <= 0x39]
            if digits:
                i = rng.choice(digits)
                data[i:i + 1] = str(rng.choice((0, 1, 7, 65535, 65536, 2 ** 31, 2 ** 32 + 1))).encode()
        elif op == 6:  # CRLF <-> LF
            data = bytearray(data.replace(b"\r\n", b"\n", rng.randint(1, 3)) if rng.random() < 0.5
                             else data.replace(b"\n", b"\r\n", 1))
        elif op == 7:  # garbage
            data[at:at] = os.urandom(rng.randint(1, 32))
        else:  # truncate
            del data[at:]
    return bytes(data)


def session(rng, seeds):
    """One connection's bytes: one or more (mutated) requests, maybe with garbage between."""
    parts = []
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
        seed = rng.choice(seeds)
        parts.append(mutate(rng, seed) if rng.random() < 0.5 else seed)
        if rng.random() < 0.15:
            parts.append(rng.choice((b"\r\n", b"\r\n\r\n", os.urandom(rng.randint(1, 20)))))
    return b"".join(parts)


def play(port, data, rng):
    """Send data over one connection as a misbehaving client would; read some of the answer."""
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        abort = rng.random() < 0.2
        end = rng.randint(0, len(data)) if abort else len(data)
        pos = 0
        while pos < end:
            n = rng.choice((1, 2, 7, 64, 512, 4096, len(data)))
            s.sendall(data[pos:min(end, pos + n)])
            pos += n
            if rng.random() < 0.1:
                time.sleep(rng.random() * 0.01)
        if abort and rng.random() < 0.5:
            # RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if not abort and rng.random() < 0.8:
            s.settimeout(0.3)
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                if not s.recv(65536):
                    break
    except OSError:
        pass
    finally:
        s.close()


def clean_request(port, hello):
    """True when a plain GET / gets 200 and `hello` within 5 s."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: check\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.startswith(b"HTTP/1.1 200 ") and data.endswith(hello)
    except OSError:
        return False


def answered_soon(port, hello, seconds=10):
    """A clean request is answered within `seconds` (a full server may say 503 for a while)."""
    deadline = time.monotonic() + seconds
    while not clean_request(port, hello):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--firmware", default=os.environ.get("KILN_FIRMWARE", str(ROOT / "firmware/UNIX_ASAN/kiln")),
                    type=lambda p: str(Path(p).resolve()))
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--app", choices=sorted(APPS), default="loop",
                    help="loop: the bare C loop (tests/apps/server_features); framework: tests/apps/app_full")
    ap.add_argument("--heapsize", default=None, help="the firmware's -X heapsize (e.g. 64k: MemoryError paths)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=str(ROOT / "build" / "fuzz-server"))
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app_dir, hello = APPS[args.app]
    seeds = SEEDS if args.app == "loop" else FRAMEWORK_SEEDS
    port = free_port()
    console = out / "console.log"
    # Short timeouts so that half-sent heads free their slot quickly.
    code = ("import sys; sys.path.insert(0, '.'); import main; main.app.run(host='127.0.0.1', port=%d, "
            "head_timeout=2, body_timeout=2, idle_timeout=2, send_timeout=2)" % port)
    log = open(console, "w")
    cmd = [args.firmware] + (["-X", "heapsize=" + args.heapsize] if args.heapsize else []) + ["-c", code]
    proc = subprocess.Popen(cmd, cwd=app_dir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not clean_request(port, hello):
        if proc.poll() is not None or time.monotonic() > deadline:
            print("fuzz-server: the server did not start:\n" + console.read_text(errors="replace"))
            return 1
        time.sleep(0.05)

    stop = time.monotonic() + args.seconds
    counts = [0] * args.clients
    recent = [[] for _ in range(args.clients)]
    failed = threading.Event()

    def client(i):
        rng = random.Random(seed * 1000 + i)
        while time.monotonic() < stop and not failed.is_set():
            data = session(rng, seeds)
            recent[i] = (recent[i] + [data])[-20:]
            play(port, data, rng)
            counts[i] += 1
            if proc.poll() is not None:
                failed.set()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    problem = None
    while any(t.is_alive() for t in threads):
        time.sleep(2)
        if proc.poll() is not None:
            problem = "the server exited (status %s)" % proc.returncode
            failed.set()
        elif not failed.is_set() and not answered_soon(port, hello):
            problem = "a clean request was not answered within 10 s during the run"
            failed.set()
    for t in threads:
        t.join()
    if problem is None and proc.poll() is not None:
        problem = "the server exited (status %s)" % proc.returncode
    if problem is None:
        time.sleep(2.5)  # the timeouts close what the clients left behind
        if not answered_soon(port, hello):
            problem = "a clean request was not answered after the run"
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    text = console.read_text(errors="replace")
    report = sanitizer_report(text)
    if report:
        problem = "the sanitizer reported an error:\n" + report
    elif args.app == "framework" and "Kiln: 500 handler error" in text:
        # An App answers every error itself; one that escapes it is a 500 from hostile input.
        problem = "an error escaped the App:\n" + text[text.index("Kiln: 500 handler error"):][:300]
    total = sum(counts)
    if problem:
        with open(out / "last-sessions.txt", "w") as f:
            for i, sessions in enumerate(recent):
                for data in sessions:
                    f.write("client %d: %r\n" % (i, data))
        print("fuzz-server: FAILED after %d sessions (seed %d): %s\nconsole: %s\nlast sessions: %s"
              % (total, seed, problem, console, out / "last-sessions.txt"))
        return 1
    print("fuzz-server: %s app, %d sessions in %.0f s from %d clients (seed %d), server up, no sanitizer report"
          % (args.app, total, args.seconds, args.clients, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
