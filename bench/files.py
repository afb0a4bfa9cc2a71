#!/usr/bin/env python3
"""Static files: Kiln's send_file against nginx; prints a Markdown section for bench/RESULTS.md.

    .venv/bin/python bench/files.py

Files of 100 B, 10 KB, 100 KB and 1 MB in a temporary folder, served by bench/apps/kiln_files.py
(`app.static`) and by nginx (one worker, `sendfile on`, the same folder). For each size:
- `wrk -t2 -c16` with both on the two cores, and pinned: the server alone on CPU 0 and `wrk -t1`
  on CPU 1 (`taskset`), ROUNDS interleaved rounds (a fresh server each), medians, with the
  server's CPU time per request;
- instructions per request (valgrind callgrind, user space, keep-alive requests one at a time):
  the 100 B file through `app.static` and through a `send_file` view, against the same 100
  bytes returned as a bytes body (issue #12: a small file at most 2x a bytes body), and the
  same two through a plain handler of the C loop (bench/apps/kiln_files_loop.py), the floor.
BENCH_ROUNDS and BENCH_DURATION as for bench/run.py.
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run

SIZES = ((100, "100 B"), (10 * 1024, "10 KB"), (100 * 1024, "100 KB"), (1024 * 1024, "1 MB"))
if os.environ.get("BENCH_FILE_SIZES"):  # e.g. "1048576": some sizes only
    SIZES = tuple(s for s in SIZES if str(s[0]) in os.environ["BENCH_FILE_SIZES"].split(","))
CALLGRIND_N = 2000


def nginx_conf(port, tmp, root):
    return """
worker_processes 1;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path %(tmp)s; proxy_temp_path %(tmp)s; fastcgi_temp_path %(tmp)s;
    uwsgi_temp_path %(tmp)s; scgi_temp_path %(tmp)s;
    server {
        listen 127.0.0.1:%(port)d;
        location /static/ { alias %(root)s/; }
    }
}
""" % {"port": port, "tmp": tmp, "root": root}


def nginx(root):
    return run.nginx(conf=lambda port, tmp: nginx_conf(port, tmp, root))


def measure(servers, path, data, pinned):
    """{name: (median req/s, median server CPU µs per request)} over ROUNDS interleaved rounds."""
    cmd = run.WRK
    if pinned:
        cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c16", "-d" + run.DURATION]
    samples = {name: [] for name in servers}
    for _ in range(run.ROUNDS):
        for name, argv in servers.items():
            run_argv = (lambda port, a=argv: ["taskset", "-c", "0"] + a(port)) if pinned else argv
            with run.Server(name, run_argv) as s:
                run.check_page(s.url + path, lambda body: body == data)
                before = run.tree_cpu_seconds(s.proc.pid)
                rps, _, _, n = run.wrk(s.url + path, cmd=cmd)
                samples[name].append((rps, (run.tree_cpu_seconds(s.proc.pid) - before) * 1e6 / n))
    return {name: (statistics.median(r for r, _ in runs), statistics.median(c for _, c in runs))
            for name, runs in samples.items()}


def served_instructions(root, path, n, app="kiln_files.py"):
    # callgrind's count for the app after n keep-alive requests for path, then SIGINT
    port = run.free_port()
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                             str(run.FIRMWARE), str(run.BENCH / "apps" / app), str(port), root],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run.wait_port(port, proc, timeout=60)
    sock = None
    for _ in range(n):
        sock, _ = run.get("http://127.0.0.1:%d" % port, path, sock)
    if sock:
        sock.close()
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    return int(next(line for line in err.splitlines() if "Collected" in line).split()[-1])


def main():
    pin = shutil.which("taskset") and (os.cpu_count() or 1) >= 2
    with tempfile.TemporaryDirectory(prefix="kiln-files-") as root:
        os.chmod(root, 0o755)  # nginx's worker runs as another user
        files = {}
        Path(root, "f100.bin").write_bytes(os.urandom(100))  # kiln_files.py's bytes body
        for size, _ in SIZES:
            data = os.urandom(size)
            Path(root, "f%d.bin" % size).write_bytes(data)
            files[size] = data
        servers = {"Kiln (app.static)": run.kiln("kiln_files.py", root), "nginx (1 worker, sendfile)": nginx(root)}
        rows = []
        for pinned in (False, True) if pin else (False,):
            for size, label in SIZES:
                r = measure(servers, "/static/f%d.bin" % size, files[size], pinned)
                (k_rps, k_cpu), (n_rps, n_cpu) = r.values()
                rows.append("| %s | %s | %.0f | %.0f | %.2f× | %.1f | %.1f |" % (
                    label, "pinned" if pinned else "shared", k_rps, n_rps, k_rps / n_rps, k_cpu, n_cpu))
        costs = []
        floor_note = ""
        if shutil.which("valgrind") and not os.environ.get("BENCH_FILE_SIZES"):
            base = served_instructions(root, "/bytes", 0)
            per = {}
            for label, path in (("100 B bytes body (a view returns bytes)", "/bytes"),
                                ("100 B file, `send_file` view", "/file"),
                                ("100 B file, `app.static`", "/static/f100.bin"),
                                ("1 MB file, `app.static`", "/static/f1048576.bin")):
                n = CALLGRIND_N if "1 MB" not in label else CALLGRIND_N // 20
                per[label] = (served_instructions(root, path, n) - base) / n
            first = next(iter(per.values()))
            costs = ["| %s | %.0f | %.2f× |" % (label, v, v / first) for label, v in per.items()]
            floor = {}
            loop_base = served_instructions(root, "/bytes", 0, "kiln_files_loop.py")
            for path in ("/bytes", "/file"):
                floor[path] = (served_instructions(root, path, CALLGRIND_N, "kiln_files_loop.py")
                               - loop_base) / CALLGRIND_N
            own = floor["/file"] - floor["/bytes"]
            sent = per["100 B file, `send_file` view"]
            floor_note = (
                "The floor, from a plain handler of the C loop (bench/apps/kiln_files_loop.py: no "
                "routing, no framework): the 100 bytes as a bytes body %.0f, as the file (a stat, "
                "the open, the read and the close, send_file's five headers) %.0f. The file's own "
                "work is %.0f, so the App's bytes body plus that is %.0f (%.2f× the bytes body), "
                "and 2× the bytes body leaves %.0f for the framework's part of a file answer (the "
                "FileResponse, its checks, the calls): it takes %.0f now in `send_file`." % (
                    floor["/bytes"], floor["/file"], own, first + own, (first + own) / first,
                    first - own, sent - first - own))
    out = ["## Static files (send_file against nginx)", "",
           "`.venv/bin/python bench/files.py`: a file of each size served by `app.static` "
           "(bench/apps/kiln_files.py) and by nginx (one worker, `sendfile on`, the same folder), "
           "`%s`, %d rounds, servers interleaved, medians; \"pinned\": the server alone on CPU 0, "
           "`wrk -t1` on CPU 1. CPU: the server's user + system time per request. Issue #12's "
           "goal: Kiln at least 0.8× nginx from 100 B to 1 MB." % (" ".join(run.WRK), run.ROUNDS), "",
           "What changed for issue #12 (before: 0.08-0.19× nginx, ~185k instructions per file "
           "response, 1 KB chunks): files go out in blocks of up to 32 KB, the send buffer growing "
           "to one while a file streams (within an eighth of the heap for all connections) and "
           "shrinking back after; a file's metadata and its 200's header list are kept by path, "
           "the file still stat'ed on every request; the file system is asked with bytes paths. "
           "Then: on Linux a file larger than the send buffer's room goes out by sendfile(2), as "
           "nginx sends it (before, each block was read into the heap and written back: 0.39-0.71x "
           "nginx pinned, 382 µs of CPU for 1 MB against nginx's 83); a 200 of an unchanged file "
           "is answered at once when no hook runs after the view (the kept header list, one stat, "
           "the open), and a path argument is cut from the path in C rather than matched with a "
           "regex (100 B: send_file 55.5k -> 38.9k, app.static 67.5k -> 45k instructions). The "
           "boards' lwIP sockets have no sendfile: there files still go through the send buffer.", "",
           "| file | cores | Kiln req/s | nginx req/s | Kiln / nginx | Kiln CPU µs/req | nginx CPU µs/req |",
           "|---|---|---|---|---|---|---|", *rows, ""]
    if costs:
        out += ["User-space instructions per request (valgrind callgrind, %d keep-alive requests one "
                "at a time, 100 for 1 MB; count(N) - count(0), divided by N). Goal: a small file at "
                "most 2× the bytes body." % CALLGRIND_N, "",
                "| response | instructions per request | vs bytes body |", "|---|---|---|", *costs, "",
                floor_note, ""]
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
