"""Every Python sample in docs/ runs: `make docs` builds the pages, this test executes the code
in them. Each ```python block runs in the unix firmware, in a folder of its own, after the
blocks marked `<!-- file: NAME -->` (an app a later sample imports, such as main.py) were
written there; a sample's `test_*` functions are then called, and its asserts are the check.
A block marked `<!-- host -->` is host-side pytest code and runs in CPython. `App.run` returns
at once, so a sample may end with the usual `app.run(...)`; a sample that serves on port 8080
gets a free port instead."""

import json
import re
import urllib.request

import pytest
from conftest import FIRMWARE, ROOT, free_port, run_upy

DOCS = ROOT / "docs"
FENCE = re.compile(r"(?:<!-- (file: [\w.]+|host) -->\n)?```python\n(.*?)```", re.S)
PRELUDE = "import kiln.app\nkiln.app.App.run = lambda self, *a, **k: None\n"
EPILOGUE = (
    "\nfor _n, _f in list(globals().items()):\n"
    "    if _n.startswith('test_') and callable(_f):\n"
    "        _f()\n"
    "print('docs sample: ok')\n"
)


def samples():
    files, runs = {}, []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text()
        for m in FENCE.finditer(text):
            mark, code = m.group(1), m.group(2)
            line = text.count("\n", 0, m.start(2)) + 1
            name = "%s:%d" % (page.relative_to(DOCS), line)
            if mark and mark.startswith("file: "):
                files[mark[6:]] = code
            else:
                runs.append((name, mark, code))
    return files, runs


FILES, RUNS = samples()


def test_docs_have_samples():
    assert len(RUNS) >= 10 and "main.py" in FILES


@pytest.mark.parametrize("mark,code", [r[1:] for r in RUNS], ids=[r[0] for r in RUNS])
def test_sample_runs(mark, code, tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    if mark == "host":
        run_host_sample(code, tmp_path)
        return
    code = code.replace("port = 8080", "port = %d" % free_port())
    r = run_upy("import sys\nsys.path.insert(0, '.')\n" + PRELUDE + code + EPILOGUE, cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout.rstrip().endswith("docs sample: ok"), r.stdout + r.stderr


def run_host_sample(code, tmp_path):
    # The socket fixture of the testing page, pointed at this firmware and at the docs' main.py;
    # it must serve that app over a real socket and stop it afterwards.
    code = code.replace("path/to/kiln/firmware/UNIX/kiln", str(FIRMWARE)).replace("path/to/myapp", str(tmp_path))
    code = code.replace("@pytest.fixture\n", "")
    scope = {"__name__": "docs_sample"}
    exec(compile(code, "<docs sample>", "exec"), scope)
    logs = tmp_path / "logs"
    logs.mkdir()
    fixture = scope["app_url"](logs)
    url = next(fixture)
    try:
        with urllib.request.urlopen(url + "/items/1", timeout=5) as res:
            assert json.loads(res.read()) == {"id": 1, "name": "lamp"}
    finally:
        assert next(fixture, "done") == "done"   # runs the teardown: stops the firmware


def test_host_sample_fixture_is_the_readme_one():
    # The socket fixture of the testing page is the one the README shows.
    readme = (ROOT / "README.md").read_text()
    page = (DOCS / "testing.md").read_text()
    fixture = re.search(r"def app_url\(tmp_path\):.*?log\.close\(\)", page, re.S).group(0)
    assert fixture in readme
