"""`await app.start_server(...)` beside the app's own task, and app.shutdown()."""

import json
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent / "apps" / "app_async"


def get(server, path):
    with urllib.request.urlopen(server.url + path, timeout=5) as res:
        return res.read()


def test_start_server_runs_beside_a_background_task_and_shuts_down(serve):
    server = serve(APP)
    first = json.loads(get(server, "/ticks"))["ticks"]
    time.sleep(0.2)
    second = json.loads(get(server, "/ticks"))["ticks"]
    assert second > first
    assert get(server, "/shutdown") == b"bye"
    server.proc.wait(5)
    assert "stopped" in server.console()


def test_shutdown_from_a_view_stops_the_server_of_start_server(serve):
    server = serve(APP)
    assert get(server, "/stop") == b"stopping"
    assert server.proc.wait(5) == 0
    assert "stopped" in server.console() and "Traceback" not in server.console()
