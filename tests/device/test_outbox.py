# kiln.outbox inside the firmware, on the unix filesystem: order, acknowledgement, reopening,
# torn tails at every byte, a full queue, drain(). Each test works in its own new folder.
import asyncio
import os

from kiln.outbox import Outbox

_made = []


def remove(path):
    try:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
        os.rmdir(path)
    except OSError:
        pass


def folder():
    path = "/tmp/kiln-outbox-%d-%d" % (id(_made), len(_made))
    remove(path)
    _made.append(path)
    return path


def teardown_module():
    for path in _made:
        remove(path)


def records(n, start=0):
    return [b"reading %d" % i for i in range(start, start + n)]


def small(path, **kw):
    box = Outbox(path, **kw)
    box.segment_size = 64  # a few records per segment
    return box


def segments(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".seg"))


def test_records_come_back_oldest_first_across_segments():
    box = small(folder())
    for r in records(20):
        assert box.put(r)
    assert box.pending == 20
    assert len(segments(box.path)) > 3
    assert box.peek(20) == records(20)
    assert box.peek(3) == records(3)
    assert box.peek(50) == records(20)


def test_dicts_are_json_and_strs_utf8():
    box = Outbox(folder())
    box.put({"t": 21.5})
    box.put("caf\u00e9")
    assert box.peek(2) == [b'{"t": 21.5}', "caf\u00e9".encode()]


def test_a_record_over_max_record_is_refused():
    box = Outbox(folder())
    try:
        box.put(b"x" * (box.max_record + 1))
    except ValueError:
        assert box.pending == 0
        return
    raise AssertionError("accepted")


def test_ack_forgets_the_oldest_and_deletes_acknowledged_segments():
    box = small(folder())
    for r in records(20):
        box.put(r)
    box.ack(7)
    assert box.pending == 13
    assert box.peek(2) == records(2, 7)
    box.ack(13)
    assert box.pending == 0 and box.peek(5) == []
    assert len(segments(box.path)) == 1  # the one being written
    box.put(b"next")
    assert box.peek(5) == [b"next"]


def test_reopening_finds_the_same_pending_records_and_position():
    path = folder()
    box = small(path)
    for r in records(12):
        box.put(r)
    box.ack(5)
    again = small(path)
    assert again.pending == 7
    assert again.peek(7) == records(7, 5)
    again.put(b"after")
    assert small(path).peek(8) == records(7, 5) + [b"after"]


def test_a_torn_last_record_is_cut_at_every_byte_offset():
    for cut in range(len(b"reading 2") + 7):
        path = folder()
        box = Outbox(path)
        for r in records(3):
            box.put(r)
        name = path + "/" + segments(path)[0]
        with open(name, "rb") as f:
            data = f.read()
        start = len(data) - len(b"reading 2") - 7
        with open(name, "wb") as f:
            f.write(data[:start + cut])  # the power failed while this record was written
        box = Outbox(path)
        assert box.pending == 2, cut
        assert box.peek(5) == records(2), cut
        assert os.stat(name)[6] == start, cut  # the torn bytes are gone
        box.put(b"new")
        assert Outbox(path).peek(5) == records(2) + [b"new"], cut


def test_a_corrupt_record_ends_its_segment():
    path = folder()
    box = Outbox(path)
    for r in records(3):
        box.put(r)
    name = path + "/" + segments(path)[0]
    with open(name, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 1  # a flipped bit in the last payload
    with open(name, "wb") as f:
        f.write(data)
    assert Outbox(path).peek(5) == records(2)


def test_a_torn_position_file_keeps_the_previous_position():
    path = folder()
    box = Outbox(path)
    for r in records(4):
        box.put(r)
    box.ack(1)
    with open(path + "/head.tmp", "wb") as f:
        f.write(b"\x00\x00\x00")  # the power failed while the next position was written
    box = Outbox(path)
    assert box.peek(5) == records(3, 1)
    assert "head.tmp" not in os.listdir(path)


def test_a_full_queue_drops_the_oldest_and_counts_it():
    path = folder()
    box = small(path, max_records=5)
    for r in records(8):
        assert box.put(r)
    assert (box.pending, box.dropped) == (5, 3)
    assert box.peek(5) == records(5, 3)
    again = small(path, max_records=5)
    assert (again.pending, again.dropped) == (5, 3)


def test_a_full_queue_can_refuse_new_records_instead():
    box = small(folder(), max_records=5, drop_oldest=False)
    accepted = [box.put(r) for r in records(8)]
    assert accepted == [True] * 5 + [False] * 3
    assert (box.pending, box.dropped) == (5, 3)
    assert box.peek(8) == records(5)


def test_drain_sends_in_order_acks_what_was_delivered_and_stops_at_a_failure():
    box = small(folder())
    for r in records(10):
        box.put(r)
    sent = []

    async def flaky(record):
        if len(sent) == 4:
            return False
        sent.append(record)
        return True

    assert asyncio.run(box.drain(flaky)) == 4
    assert box.pending == 6 and box.peek(1) == records(1, 4)

    async def good(record):
        sent.append(record)
        return True

    assert asyncio.run(box.drain(good)) == 6
    assert sent == records(10) and box.pending == 0


def test_drain_acks_nothing_twice_when_put_drops_the_oldest_meanwhile():
    box = small(folder(), max_records=3)
    for r in records(3):
        box.put(r)
    sent = []

    async def send(record):
        sent.append(record)
        if len(sent) == 1:
            box.put(b"late")  # full: drops "reading 0", the record being sent
        return True

    asyncio.run(box.drain(send))
    assert sent == [b"reading 0", b"reading 1", b"reading 2", b"late"]
    assert box.pending == 0 and box.dropped == 1
