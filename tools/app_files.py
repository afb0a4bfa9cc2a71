#!/usr/bin/env python3
"""Print what `make deploy` copies from an app folder, one entry per line: its top-level Python
modules, its packages (folders with __init__.py), templates/ and static/. Tests, caches,
uploads, dotfiles and anything else stay on the host."""

import os
import sys

SKIP_MODULES = ("test_", "conftest")


def app_files(folder):
    entries = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith((".", "_")) and name != "__init__.py":
            continue
        if os.path.isfile(path):
            if name.endswith(".py") and not name.startswith(SKIP_MODULES):
                entries.append(name)
        elif name in ("templates", "static") or os.path.isfile(os.path.join(path, "__init__.py")):
            if name not in ("tests", "test"):
                entries.append(name)
    return entries


if __name__ == "__main__":
    print("\n".join(app_files(sys.argv[1])))
