# The floor for bench/files.py's instruction rows: kiln_files.py's 100 bytes through a plain
# handler of the C loop (no routing, no framework), as a bytes body and as the file, stat'ed and
# opened per request with the five headers of send_file's 200.
import os
import sys

from kiln import server
from kiln.response import http_date

SMALL = (sys.argv[2] + "/f100.bin").encode()
with open(SMALL, "rb") as f:
    BODY = f.read()
_st = os.stat(SMALL)
TYPE = [("Content-Type", "application/octet-stream")]
FILE_HEAD = TYPE + [("ETag", '"%x-%x"' % (_st[8], _st[6])), ("Last-Modified", http_date(_st[8])),
                    ("Accept-Ranges", "bytes"), ("Content-Length", str(_st[6]))]
stat = os.stat


def handler(request):
    if request.path == "/bytes":
        return (200, TYPE, BODY)
    stat(SMALL)
    return (200, FILE_HEAD, open(SMALL, "rb"))


server.run(handler, host="127.0.0.1", port=int(sys.argv[1]))
