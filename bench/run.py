#!/usr/bin/env python3
"""Kiln's benchmarks, side by side in one run; writes bench/RESULTS.md.

    make bench                      # everything
    .venv/bin/python bench/run.py hello memory     # some sections, printed, RESULTS.md untouched
    .venv/bin/python bench/run.py --update device_budgets   # re-measure sections in RESULTS.md

Sections: hello (Kiln's loop, Kiln's App, Microdot 2.7.0 and nginx with wrk), memory (heap per
request, per idle connection, smallest heap), routes (framework overhead and a JSON route), and
every bench/<name>.py script that prints a Markdown section of its own (parser, templates, websocket,
device_profiles: the heap budgets on the 32-bit device firmware, firmware/UNIX_DEVICE/kiln).
Every server runs on the same firmware build (firmware/UNIX/kiln; device_profiles on the 32-bit
firmware/UNIX_DEVICE/kiln) and listens on 127.0.0.1.
"""

import atexit
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import fetch_microdot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FIRMWARE = ROOT / "firmware" / "UNIX" / "kiln"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# The framework-overhead table compares close numbers: more rounds.
OVERHEAD_ROUNDS = int(os.environ.get("BENCH_OVERHEAD_ROUNDS", "5"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
WRK = ["wrk", "-t2", "-c16", "-d" + DURATION, "--latency"]
HELLO = b"Hello, world!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited: %s" % proc.args)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start: %s" % proc.args)


class Server:
    """A server process on a free port; `with Server(...) as s:` stops it afterwards."""

    def __init__(self, name, argv_for_port, cwd=None, heapsize=None):
        self.name = name
        self.port = free_port()
        argv = argv_for_port(self.port)
        if heapsize and argv[0] == str(FIRMWARE):
            argv = [argv[0], "-X", "heapsize=%s" % heapsize] + argv[1:]
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        self.url = "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop(self.proc)


def stop(proc):
    """Ends a server process: SIGTERM, then SIGKILL after 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def microdot_dir():
    """Microdot (tools/fetch_microdot.py) with bench/apps/microdot_app.py beside its package."""
    target = fetch_microdot.folder()
    shutil.copy(BENCH / "apps" / "microdot_app.py", target / "microdot_app.py")
    return target


def kiln(script, *args, firmware=FIRMWARE):
    return lambda port: [str(firmware), str(BENCH / "apps" / script), str(port), *args]


# A firmware built from an earlier commit, measured beside today's in the pinned table (issue 11:
# the request path before its redesign): BENCH_BASELINE=path/to/kiln, BENCH_BASELINE_NAME=label.
BASELINE = os.environ.get("BENCH_BASELINE")
BASELINE_NAME = os.environ.get("BENCH_BASELINE_NAME", "before")


def microdot():
    where = microdot_dir()
    return lambda port: [str(FIRMWARE), str(where / "microdot_app.py"), str(port)], where


def nginx_conf(port, tmp, worker_connections=1024):
    return """
worker_processes 1;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log;
events { worker_connections %(wc)d; }
http {
    access_log off;
    client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s; fastcgi_temp_path %(tmp)s;
    uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
    server {
        listen 127.0.0.1:%(port)d;
        location / { default_type "text/plain; charset=UTF-8"; return 200 "Hello, world!"; }
    }
}
""" % {"port": port, "tmp": tmp, "wc": worker_connections}


def nginx(worker_connections=1024, conf=None):
    """argv_for_port of an nginx with nginx_conf's configuration, or conf(port, tmp)'s."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = tempfile.mkdtemp(prefix="kiln-nginx-")
    atexit.register(shutil.rmtree, tmp, True)

    def argv(port):
        path = Path(tmp) / "nginx.conf"
        path.write_text(conf(port, tmp) if conf else nginx_conf(port, tmp, worker_connections))
        return [binary, "-c", str(path), "-e", str(Path(tmp) / "error.log")]

    return argv


def wrk(url, close=False, cmd=WRK):
    """One wrk run: (req/s, p99 latency in ms, socket errors, requests answered)."""
    cmd = cmd + (["-H", "Connection: close"] if close else []) + [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError("%s answered errors under load; not a valid measurement:\n%s" % (url, out))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)] if p99 else 0.0
    errors = re.search(r"Socket errors: .*", out)
    return rps, p99, errors.group(0) if errors else "", int(re.search(r"(\d+) requests in", out).group(1))


def check_page(url, expected):
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read()
    if not expected(body):
        raise RuntimeError("%s answered %r, not the page to measure" % (url, body[:200]))


def side_by_side(servers, close=False, path="/", expected=lambda body: body == HELLO):
    """Run wrk ROUNDS times over each server in turn; return {name: (median rps, median p99, notes)}."""
    samples = {name: [] for name in servers}
    for _ in range(ROUNDS):
        for name, (argv, cwd) in servers.items():
            with Server(name, argv, cwd) as s:
                check_page(s.url + path, expected)
                samples[name].append(wrk(s.url + path, close)[:3])
    return {
        name: (statistics.median(r for r, _, _ in runs), statistics.median(p for _, p, _ in runs),
               "; ".join(sorted({e for _, _, e in runs if e})))
        for name, runs in samples.items()
    }


def cpu_times(pid):
    """(user, system) CPU seconds a process has used so far (Linux /proc)."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    return sum(cpu_times(pid))


def tree_cpu_times(pid):
    """(user, system) CPU seconds of a process and its children (nginx's worker) so far."""
    times = [cpu_times(pid)]
    for child in Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split():
        times.append(cpu_times(int(child)))
    return sum(u for u, _ in times), sum(s for _, s in times)


def tree_cpu_seconds(pid):
    """User + system CPU time of a process and its children so far."""
    return sum(tree_cpu_times(pid))


def overhead(servers, pinned):
    """req/s and the server's CPU time per request (its process and their children: nginx's
    master and worker) and the system part of it, OVERHEAD_ROUNDS interleaved rounds, medians.
    pinned: the server on CPU 0 and wrk (one thread) on CPU 1, so the server alone limits the
    rate."""
    cmd = WRK
    if pinned:
        cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c16", "-d" + DURATION]
    samples = {name: [] for name in servers}
    for _ in range(OVERHEAD_ROUNDS):
        for name, (argv, cwd) in servers.items():
            run_argv = (lambda port, a=argv: ["taskset", "-c", "0"] + a(port)) if pinned else argv
            with Server(name, run_argv, cwd) as s:
                check_page(s.url + "/", lambda body: body == HELLO)
                user, system = tree_cpu_times(s.proc.pid)
                rps, _, _, n = wrk(s.url + "/", cmd=cmd)
                user_after, system_after = tree_cpu_times(s.proc.pid)
                samples[name].append((rps, (user_after + system_after - user - system) * 1e6 / n,
                                      (system_after - system) * 1e6 / n))
    base = statistics.median(r for r, _, _ in next(iter(samples.values())))
    base_cpu = statistics.median(c for _, c, _ in next(iter(samples.values())))
    lines = ["| server | req/s (median) | vs first row | server CPU per request (µs, median) | vs first row "
             "| of which in the kernel (µs, median) |", "|---|---|---|---|---|---|"]
    for name, runs in samples.items():
        rps = statistics.median(r for r, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        system = statistics.median(k for _, _, k in runs)
        lines.append("| %s | %.0f | %.2f× | %.2f | %.2f× | %.2f |" % (
            name, rps, rps / base, cpu, base_cpu / cpu, system))
    return "\n".join(lines)


def table(results, baseline):
    base = results[baseline][0]
    lines = ["| server | req/s (median) | p99 latency (ms) | vs %s | notes |" % baseline, "|---|---|---|---|---|"]
    for name, (rps, p99, notes) in results.items():
        lines.append("| %s | %.0f | %.2f | %.2f× | %s |" % (name, rps, p99, rps / base, notes))
    return "\n".join(lines)


def section_hello():
    md_argv, md_dir = microdot()
    servers = {
        "Kiln (C loop, plain handler)": (kiln("kiln_loop.py"), None),
        "Kiln (App, routing)": (kiln("kiln_app.py"), None),
        "Microdot %s" % fetch_microdot.VERSION: (md_argv, md_dir),
        "nginx (1 worker)": (nginx(), None),
    }
    keep = side_by_side(servers)
    close = side_by_side(servers, close=True)
    md = "Microdot %s" % fetch_microdot.VERSION
    out = ["## Hello world", "",
           "`%s http://127.0.0.1:PORT/`, %d rounds, servers interleaved, medians." % (" ".join(WRK), ROUNDS),
           "Microdot answers HTTP/1.0 and closes after every response, so wrk reconnects for each of its requests.",
           "", "### Keep-alive (wrk's default)", "", table(keep, md), "",
           "### `Connection: close` on every request", "", table(close, md), "",
           "Kiln (C loop) as a fraction of nginx with keep-alive: %.1f%%; with close: %.1f%%." % (
               100 * keep["Kiln (C loop, plain handler)"][0] / keep["nginx (1 worker)"][0],
               100 * close["Kiln (C loop, plain handler)"][0] / close["nginx (1 worker)"][0]), ""]
    return "\n".join(out)


def section_routes():
    md_argv, md_dir = microdot()
    hello = {
        "Kiln loop only": (kiln("kiln_loop.py"), None),
        "Kiln App": (kiln("kiln_app.py"), None),
        "Kiln App + hooks + sessions": (kiln("kiln_app.py", "full"), None),
    }
    shared = overhead(hello, pinned=False)
    if BASELINE:
        hello["Kiln loop only, %s" % BASELINE_NAME] = (kiln("kiln_loop.py", firmware=BASELINE), None)
        hello["Kiln App, %s" % BASELINE_NAME] = (kiln("kiln_app.py", firmware=BASELINE), None)
    # the kernel's floor beside Kiln: nginx's hello (one worker) on the same core
    hello["nginx (1 worker)"] = (nginx(), None)
    pinned = overhead(hello, pinned=True) if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else None
    json_route = side_by_side({
        "Kiln App": (kiln("kiln_app.py"), None),
        "Microdot %s" % fetch_microdot.VERSION: (md_argv, md_dir),
    }, path="/items/42", expected=lambda body: json.loads(body)["id"] == 42)
    out = ["## Framework overhead and a JSON route", "",
           "Hello page, `%s`, %d rounds, medians. \"Hooks + sessions\": a before_request hook that "
           "writes `request.g`, an after_request hook and a `Session` (bench/apps/kiln_app.py). The "
           "CPU column is the server's user + system time during the run divided by the requests "
           "it answered; the kernel's part is its system time." % (" ".join(WRK), OVERHEAD_ROUNDS), "", shared, ""]
    if pinned:
        out += ["The same with the server alone on one core and wrk (`-t1`) on the other (`taskset`), "
                "so that the server's own cost limits the rate; nginx (one worker, the Hello world "
                "section's configuration; CPU of its master and worker: one read and one write per "
                "request, one wait for several) is what a lean C server pays:", "", pinned, ""]
    out += ["`GET /items/42` (an `<int:id>` converter, a JSON body), `%s`, %d rounds:" % (
            " ".join(WRK), ROUNDS), "", table(json_route, "Microdot %s" % fetch_microdot.VERSION), ""]
    return "\n".join(out)


def get(base_url, path, sock=None):
    """One keep-alive GET of path on sock (a new connection if None); returns (sock, body)."""
    if sock is None:
        host, port = base_url.rsplit("/", 1)[1].split(":")
        sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    if head.startswith(b"HTTP/1.0") or re.search(rb"(?i)connection:\s*close", head):
        sock.close()  # servers that close after each response: the next get() reconnects
        sock = None
    return sock, body


def heap_per_request(base_url, n=300):
    sock, start = get(base_url, "/gc-off")
    for _ in range(n):
        sock, _ = get(base_url, "/", sock)
    sock, end = get(base_url, "/mem", sock)
    if sock:
        sock.close()
    return (int(end) - int(start)) / (n + 1)


def heap_per_idle_connection(base_url, n=20):
    first, start = get(base_url, "/gc-off")
    socks = [get(base_url, "/")[0] for _ in range(n)]
    last, end = get(base_url, "/mem")
    for s in socks + [first, last]:
        if s:
            s.close()
    return (int(end) - int(start)) / n


def serves(argv, cwd, heapsize, n=1000):
    try:
        with Server("probe", argv, cwd, heapsize) as s:
            sock = None
            for i in range(n):
                if i % 100 == 0 and sock:  # reconnect now and then, as browsers do
                    sock.close()
                    sock = None
                sock, body = get(s.url, "/", sock)
                if body != HELLO:
                    return False
            if sock:
                sock.close()
            return s.proc.poll() is None
    except (OSError, RuntimeError, AttributeError):
        return False


def smallest_heap(argv, cwd, sizes=(8, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192, 256)):
    # A size counts when two fresh servers in a row pass: near the edge a run can go either way.
    for kb in sizes:
        if serves(argv, cwd, "%dk" % kb) and serves(argv, cwd, "%dk" % kb):
            return "%d KB" % kb
    return "> %d KB" % sizes[-1]


def section_memory():
    md_argv, md_dir = microdot()
    rows = []
    for name, argv, cwd in (("Kiln (C loop)", kiln("kiln_loop.py"), None),
                            ("Kiln (App)", kiln("kiln_app.py"), None),
                            ("Microdot %s" % fetch_microdot.VERSION, md_argv, md_dir)):
        with Server(name, argv, cwd, "32m") as s:
            per_request = heap_per_request(s.url)
        with Server(name, argv, cwd, "32m") as s:
            per_conn = heap_per_idle_connection(s.url)
        rows.append("| %s | %.0f | %.0f | %s |" % (name, per_request, per_conn, smallest_heap(argv, cwd)))
    return "\n".join([
        "## Memory", "",
        "Heap allocated per hello request: `gc.disable()`, 300 requests (keep-alive where the server "
        "keeps connections), `gc.mem_alloc()` "
        "before and after, divided by the requests. Per idle connection: 20 keep-alive connections "
        "left open after one request each. Smallest heap: the smallest `-X heapsize` (tried 8 KB "
        "upward) at which the server answers 1,000 hello requests (reconnecting every 100), twice in a row.", "",
        "| server | heap per request (bytes) | heap per idle keep-alive connection (bytes) | smallest heap |",
        "|---|---|---|---|", *rows, ""])


SECTIONS = {"hello": section_hello, "routes": section_routes, "memory": section_memory}


def external_sections():
    return sorted(p.stem for p in BENCH.glob("*.py") if p.name != "run.py")


def run_section(name):
    print("bench: %s" % name, file=sys.stderr)
    if name in SECTIONS:
        return SECTIONS[name]()
    out = subprocess.run([sys.executable, str(BENCH / (name + ".py"))], check=True,
                         capture_output=True, text=True).stdout
    return out.strip() + "\n"


def update_results(parts):
    """Replace each part's `## ` section in RESULTS.md (or append it), keeping the others."""
    path = BENCH / "RESULTS.md"
    blocks = re.split(r"(?m)^(?=## )", path.read_text())
    for part in parts:
        heading = part.splitlines()[0]
        for i, block in enumerate(blocks):
            if block.splitlines()[0] == heading:
                blocks[i] = part.rstrip() + "\n\n"
                break
        else:
            blocks.append(part.rstrip() + "\n\n")
    path.write_text("".join(block.rstrip() + "\n\n" for block in blocks).rstrip() + "\n")


def main():
    args = sys.argv[1:]
    update = args[:1] == ["--update"]
    wanted = args[update:] or list(SECTIONS) + external_sections()
    parts = [run_section(name) for name in wanted]
    if update:
        update_results(parts)
        print("bench: updated %s in bench/RESULTS.md" % ", ".join(wanted), file=sys.stderr)
    elif args:
        print("\n".join(parts))
    else:
        header = ["# Kiln benchmark results", "",
                  "Written by `make bench` (`bench/run.py`) on %s; machine: %d cores, %s." % (
                      time.strftime("%Y-%m-%d"), os.cpu_count(), " ".join(os.uname()[2:3])),
                  "Firmware: `firmware/UNIX/kiln` (MicroPython 1.25.0 unix port with Kiln). Numbers from "
                  "one run on a shared machine: compare rows within a table, not across runs.", ""]
        (BENCH / "RESULTS.md").write_text("\n".join(header + parts))
        print("bench: wrote bench/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
