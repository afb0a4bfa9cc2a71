"""The type stubs in stubs/ stay true to the code: every public name of each `kiln` module and of
`_kiln` (as the firmware has it) is in its stub, and stubs/check_api.py, the typed app that
`make typecheck` checks against the stubs, runs in the firmware."""

import ast
from pathlib import Path

import pytest
from conftest import ROOT, run_upy

STUBS = ROOT / "stubs"
MODULES = sorted(p for p in (ROOT / "modules" / "kiln").glob("*.py") if p.stem != "template_compiler")


def public_names(tree):
    """Top-level public names a module defines, and the public methods of its classes."""
    names, methods = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            targets = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = [
                t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)
            ]
        else:
            continue
        for name in targets:
            if not name.startswith("_") or name == "__version__":
                names.add(name)
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            methods[node.name] = {
                m.name
                for m in node.body
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and not m.name.startswith("_")
            } | {m.target.id for m in node.body if isinstance(m, ast.AnnAssign) and isinstance(m.target, ast.Name)}
    return names, methods


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_kiln_stub_covers_module(module):
    stub = STUBS / "kiln" / (module.stem + ".pyi")
    assert stub.exists(), "no stub for kiln.%s: add %s" % (module.stem, stub.relative_to(ROOT))
    names, methods = public_names(ast.parse(module.read_text()))
    stub_names, stub_methods = public_names(ast.parse(stub.read_text()))
    if module.stem == "__init__":
        # _WHERE is one string of " name:module" pairs (no heap on the device), not a dict.
        where = ast.literal_eval(
            next(
                n.value
                for n in ast.parse(module.read_text()).body
                if isinstance(n, ast.Assign) and n.targets[0].id == "_WHERE"
            )
        )
        names |= {pair.split(":")[0] for pair in where.split()}
        stub_names |= {
            a.asname for n in ast.parse(stub.read_text()).body if isinstance(n, ast.ImportFrom) for a in n.names
        }
        names.discard("_WHERE")
    assert names - stub_names == set(), "public names of kiln.%s missing from its stub" % module.stem
    for cls, ms in methods.items():
        assert ms - stub_methods.get(cls, set()) == set(), "methods of kiln.%s.%s missing from its stub" % (
            module.stem,
            cls,
        )


def test_kiln_c_stub_covers_module():
    code = (
        "import _kiln\n"
        "print(sorted(n for n in dir(_kiln) if not n.startswith('_')))\n"
        "for c in (_kiln.Parser, _kiln.Headers, _kiln.Server):\n"
        "    print(c.__name__, sorted(n for n in dir(c) if not n.startswith('_')))\n"
    )
    r = run_upy(code)
    assert r.returncode == 0, r.stderr + r.stdout
    lines = r.stdout.splitlines()
    stub_names, stub_methods = public_names(ast.parse((STUBS / "_kiln" / "__init__.pyi").read_text()))
    assert set(ast.literal_eval(lines[0])) - stub_names == set()
    for line in lines[1:]:
        cls, names = line.split(" ", 1)
        assert set(ast.literal_eval(names)) - stub_methods[cls] - stub_names == set(), cls


def test_check_api_runs_in_firmware(tmp_path):
    # Not from stubs/: its kiln/ folder would shadow the frozen package (a namespace package).
    r = run_upy((STUBS / "check_api.py").read_text(), cwd=str(tmp_path))
    assert r.returncode == 0 and "check_api: ok" in r.stdout, r.stdout + r.stderr


def test_stub_files_parse():
    for p in Path(STUBS).rglob("*.pyi"):
        ast.parse(p.read_text(), str(p))
