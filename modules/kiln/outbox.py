"""Store and forward: records kept on flash until a send confirms them, surviving reboots and
power cuts.

```python
box = Outbox("/outbox", max_records=500)
box.put({"t": 21.5})                      # on flash now
sent = await box.drain(send)              # send(record) -> True once the broker/API took it
```

Records are appended to segment files (`00000001.seg`, ...) under the folder, each framed as a
magic byte, a 2-byte length and a CRC32 of length and payload: a power cut in the middle of a
write leaves a torn last record, which the next open detects and cuts off, so at most the record
being written is lost. The position of the oldest unacknowledged record (and the dropped count)
lives in the file `head`, rewritten through a rename; a segment is deleted once every record in
it is acknowledged.
"""

import json
import os

try:
    from binascii import crc32
except ImportError:  # a port built without binascii.crc32

    def crc32(data, crc=0):
        crc ^= 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = crc >> 1 ^ (0xEDB88320 & -(crc & 1))
        return crc ^ 0xFFFFFFFF


_MAGIC = 0xA5
_HEADER = 7  # magic, length (2 bytes), CRC32 (4 bytes)


def _crc(size, data):
    return crc32(data, crc32(size)) & 0xFFFFFFFF


def _frame(data):
    size = len(data).to_bytes(2, "big")
    return bytes((_MAGIC,)) + size + _crc(size, data).to_bytes(4, "big") + data


class Outbox:
    """A bounded queue of records (bytes; a str is UTF-8 encoded, a dict or list JSON-encoded)
    in the folder `path`, created if missing. When `max_records` are pending, put() drops the
    oldest (`drop_oldest=True`) or refuses the new record; both count in `dropped`."""

    segment_size = 4096  # bytes per segment file before a new one is started
    max_record = 1024  # bytes: a larger record is refused (ValueError)

    def __init__(self, path, max_records=1000, drop_oldest=True):
        self.path = path.rstrip("/")
        self.max_records = max_records
        self.drop_oldest = drop_oldest
        self.pending = 0  # records stored and not acknowledged
        self.dropped = 0  # records lost to a full queue, since the outbox was created
        try:
            os.mkdir(self.path)
        except OSError:
            pass  # exists
        self._head = self._load_head()
        for name in os.listdir(self.path):
            if name.endswith(".tmp"):
                os.remove(self._file(name))
        self._segs = sorted(int(n[:-4]) for n in os.listdir(self.path) if n.endswith(".seg"))
        seg, off = self._head
        for s in self._segs:
            if s < seg:
                os.remove(self._seg_file(s))
        self._segs = [s for s in self._segs if s >= seg]
        if self._segs and self._segs[0] > seg:
            self._head = (self._segs[0], 0)
        self._tail = 0  # size of the last segment; None: start a new segment on the next put
        for s in self._segs:
            records = self._read(s, self._head[1] if s == self._head[0] else 0, -1, False)
            self.pending += len(records)
            if s == self._segs[-1]:
                self._tail = records[-1][1] if records else (self._head[1] if s == self._head[0] else 0)
                if os.stat(self._seg_file(s))[6] != self._tail:
                    self._cut(s, self._tail)

    def _file(self, name):
        return self.path + "/" + name

    def _seg_file(self, seg):
        return self._file("%08d.seg" % seg)

    def _load_head(self):
        for name in ("head", "head.tmp"):
            try:
                with open(self._file(name), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if len(data) == 16 and crc32(data[:12]) & 0xFFFFFFFF == int.from_bytes(data[12:], "big"):
                self.dropped = int.from_bytes(data[8:12], "big")
                return int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        return 0, 0

    def _save_head(self, head):
        data = (head[0].to_bytes(4, "big") + head[1].to_bytes(4, "big")
                + self.dropped.to_bytes(4, "big"))
        with open(self._file("head.tmp"), "wb") as f:
            f.write(data + (crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
        os.rename(self._file("head.tmp"), self._file("head"))

    def _cut(self, seg, size):
        # A torn tail: keep the valid prefix (files cannot be truncated in place on every port).
        name = self._seg_file(seg)
        try:
            with open(name, "rb") as f:
                data = f.read(size)
            with open(name + ".tmp", "wb") as f:
                f.write(data)
            os.rename(name + ".tmp", name)
        except OSError:
            self._tail = None  # no room to rewrite it: readers stop at the torn record anyway

    def _read(self, seg, off, limit, keep):
        """Up to `limit` (-1: all) valid records of a segment from `off`: [(payload or None,
        offset after it)]; stops at the end or at the first torn or corrupt record."""
        records = []
        try:
            f = open(self._seg_file(seg), "rb")
        except OSError:
            return records
        with f:
            f.seek(off)
            while len(records) != limit:
                header = f.read(_HEADER)
                if len(header) < _HEADER or header[0] != _MAGIC:
                    break
                size = int.from_bytes(header[1:3], "big")
                data = f.read(size)
                if len(data) < size or _crc(header[1:3], data) != int.from_bytes(header[3:], "big"):
                    break
                off += _HEADER + size
                records.append((data if keep else None, off))
        return records

    def _walk(self, n, keep):
        # The first n pending records and the position after them.
        out = []
        seg, off = self._head
        for s in self._segs:
            if s > seg:
                seg, off = s, 0
            for data, end in self._read(s, off, n - len(out), keep):
                out.append(data)
                off = end
            if len(out) == n:
                break
        return out, (seg, off)

    def put(self, record):
        """Store a record; returns False if the queue is full and refuses new records. Raises
        OSError when the filesystem refuses the write (full): the record is not stored, those
        before it are intact."""
        if isinstance(record, (dict, list)):
            record = json.dumps(record)
        if isinstance(record, str):
            record = record.encode()
        if len(record) > self.max_record:
            raise ValueError("record too large")
        if self.pending >= self.max_records:
            self.dropped += 1
            if not self.drop_oldest:
                self._save_head(self._head)
                return False
            self._advance(1)
        frame = _frame(record)
        if self._tail is None or not self._segs or self._tail and self._tail + len(frame) > self.segment_size:
            seg = (self._segs[-1] if self._segs else self._head[0]) + 1
            mode, size = "wb", 0
        else:
            seg, mode, size = self._segs[-1], "ab", self._tail
        try:
            with open(self._seg_file(seg), mode) as f:
                f.write(frame)
        except OSError:
            self._tail = None  # a partial record may sit at its end: the next put starts a new segment
            raise
        if not self._segs or self._segs[-1] != seg:
            self._segs.append(seg)
        self._tail = size + len(frame)
        self.pending += 1
        return True

    def peek(self, n=1):
        """The oldest n pending records (fewer if fewer are pending), oldest first, as bytes."""
        return self._walk(min(n, self.pending), True)[0]

    def ack(self, n=1):
        """Forget the oldest n pending records (delivered): the position is on flash before this
        returns, and fully acknowledged segments are deleted. Raises OSError if the position
        cannot be written (a full filesystem whose space no deleted segment freed)."""
        self._advance(min(n, self.pending))

    def _advance(self, n):
        records, head = self._walk(n, False)
        # Fully acknowledged segments go first: should the power fail before the new position is
        # saved, the next open starts at the first segment left, the same record.
        while len(self._segs) > 1 and self._segs[0] < head[0]:
            os.remove(self._seg_file(self._segs.pop(0)))
        self._save_head(head)
        self._head = head
        self.pending -= len(records)

    async def drain(self, send, batch=8):
        """Send the pending records oldest first with the coroutine `send(record)`, which
        returns True once the record is delivered (a broker's PUBACK, an API's 2xx); each
        delivered record is acknowledged. Stops at the first record not delivered; returns how
        many were. An exception from `send` propagates (the record stays pending)."""
        sent = 0
        while self.pending:
            for record in self.peek(batch):
                head = self._head
                if not await send(record):
                    return sent
                if self._head != head:
                    break  # put() dropped the oldest meanwhile: `record` may no longer be first
                self.ack(1)
                sent += 1
        return sent
