#!/usr/bin/env python3
"""Write a .gz beside each text asset of a static folder, for kiln.static to send to clients
that accept gzip:

    tools/gzip_static.py FOLDER...

Reproducible: the output depends only on the file's bytes (level 9, no name, time 0), so the
committed .gz files can be checked against their sources (tests/test_examples_dashboard.py).
"""

import gzip
import os
import sys

TEXT = (".css", ".js", ".html", ".svg", ".json", ".txt")


def compress(data):
    """The .gz bytes of ``data``: the same bytes every time."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def gzip_folder(folder):
    """Write FILE.gz for every text asset FILE under ``folder``; return the paths written."""
    written = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(TEXT):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                packed = compress(f.read())
            with open(path + ".gz", "wb") as f:
                f.write(packed)
            written.append(path + ".gz")
    return written


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    for folder in sys.argv[1:]:
        for path in gzip_folder(folder):
            print(path)
