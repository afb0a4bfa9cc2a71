# kiln.hub inside the firmware: topics, JSON encoded once, bounded queues (drop or latest-only),
# no leak on close, and Hub.stream to WebSocket-like and SSE sinks.
import asyncio
import gc

from kiln.hub import Closed, Hub
from kiln.sse import SSE


def run(coro):
    return asyncio.run(coro)


def queued(sub):
    # what get() would return now, without waiting
    out = []
    while sub._queue:
        out.append(run(sub.get()))
    return out


def test_publish_reaches_the_topic_and_every_topic_subscribers_only():
    hub = Hub()
    a, b, every, star = hub.subscribe("a"), hub.subscribe("b"), hub.subscribe(), hub.subscribe("x", "*")
    assert hub.publish("a", "one") == 3
    assert hub.publish("c", "two") == 2
    assert queued(a) == [("a", "one")] and queued(b) == []
    assert queued(every) == [("a", "one"), ("c", "two")] == queued(star)
    assert hub.count() == 4 and hub.count("a") == 3 and hub.count("*") == 2 and hub.count("zz") == 2


def test_a_subscriber_of_two_topics_gets_each_message_once():
    hub = Hub()
    sub = hub.subscribe("a", "b")
    assert hub.publish("a", 1) == 1 and hub.publish("b", 2) == 1
    assert queued(sub) == [("a", 1), ("b", 2)]
    assert hub.count() == 1 and hub.count("a") == 1 and hub.count("b") == 1


def test_publishing_to_star_is_refused():
    hub = Hub()
    try:
        hub.publish("*", "x")
    except ValueError:
        return
    raise AssertionError("publish('*') accepted")


def test_dict_and_list_are_json_encoded_once_for_all_subscribers():
    hub = Hub()
    a, b = hub.subscribe("t"), hub.subscribe("t")
    hub.publish("t", {"k": [1, 2]})
    (_, da), (_, db) = queued(a) + queued(b)
    assert da == '{"k": [1, 2]}' and da is db
    hub.publish("t", [1])
    assert queued(a) == [("t", "[1]")]


def test_str_and_bytes_are_delivered_as_they_are():
    hub = Hub()
    sub = hub.subscribe("t")
    payload = b"\x00raw"
    hub.publish("t", payload)
    hub.publish("t", "text")
    got = queued(sub)
    assert got[0][1] is payload and got[1] == ("t", "text")


def test_latest_keeps_only_the_newest_message_of_each_topic():
    hub = Hub()
    sub = hub.subscribe(maxlen=2, latest=True)
    for topic, data in (("a", 1), ("b", 1), ("a", 2), ("a", 3)):
        assert hub.publish(topic, data) == 1
    assert queued(sub) == [("a", 3), ("b", 1)]
    hub.publish("a", 4)
    hub.publish("b", 5)
    hub.publish("c", 6)  # a third topic in a queue of two: the oldest goes
    assert queued(sub) == [("b", 5), ("c", 6)]
    assert not sub.dropped and not sub.closed and hub.dropped == 0


def test_a_full_queue_drops_the_subscriber_and_counts_it():
    hub = Hub()
    slow, fast = hub.subscribe("t", maxlen=2), hub.subscribe("t", maxlen=2)
    assert hub.publish("t", 1) == 2 and hub.publish("t", 2) == 2
    queued(fast)
    assert hub.publish("t", 3) == 1
    assert slow.dropped and slow.closed and not fast.dropped
    assert hub.dropped == 1 and hub.count() == 1 and hub.count("t") == 1
    assert queued(fast) == [("t", 3)]
    try:
        run(slow.get())
    except Closed:
        pass
    else:
        raise AssertionError("get() on a dropped subscription returned")


def test_a_waiting_get_ends_when_the_subscription_is_closed():
    hub = Hub()
    sub = hub.subscribe("t")
    seen = []

    async def reader():
        async for _topic, data in sub:
            seen.append(data)
        seen.append("end")

    async def main():
        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        hub.publish("t", "a")
        await asyncio.sleep(0)
        sub.close()
        await asyncio.wait_for(task, 1)

    run(main())
    assert seen == ["a", "end"] and hub.count() == 0 and not sub.dropped


def test_close_removes_at_once_and_leaks_nothing():
    hub = Hub()
    keep = hub.subscribe("t0", latest=True)  # beside them all along; one message queued at most
    gc.collect()
    before = gc.mem_free()
    for i in range(1000):
        sub = hub.subscribe("t%d" % (i % 10), maxlen=4)
        hub.publish("t%d" % (i % 10), "m")
        sub.close()
        sub.close()
    sub = None
    assert (hub.count(), hub.count("t3"), hub.count("t0"), hub.dropped) == (1, 0, 1, 0)
    assert queued(keep) == [("t0", "m")]
    gc.collect()
    assert before - gc.mem_free() < 512, before - gc.mem_free()
    assert hub._subs == {"t0": [keep]}


def test_a_subscriber_that_never_reads_holds_back_nobody_and_the_heap_stays_bounded():
    hub = Hub()
    n = 300
    counts = []

    async def reader(sub, i):
        async for _ in sub:
            counts[i] += 1

    async def main():
        idle = hub.subscribe("t", maxlen=4)
        tasks = []
        for i in range(99):
            counts.append(0)
            tasks.append(asyncio.create_task(reader(hub.subscribe("t", maxlen=4), i)))
        await asyncio.sleep(0)
        gc.collect()
        before = gc.mem_free()
        for i in range(n):
            hub.publish("t", "message %d" % i)  # a new str each: kept ones would show
            if i % 2:
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        gc.collect()
        grown = before - gc.mem_free()
        assert grown < 2048, grown  # unbounded, the idle queue would hold n messages: ~32 KB
        assert idle.dropped and hub.dropped == 1 and hub.count() == 99
        for sub in list(hub._subs["t"]):
            sub.close()
        for task in tasks:
            await task

    run(main())
    assert counts == [n] * 99, counts
    assert hub.count() == 0


class WebSocketLike:
    def __init__(self, fail_after=None, gate=None):
        self.sent = []
        self.closed_with = None
        self.fail_after = fail_after
        self.gate = gate  # an Event: send waits for it, as for a client that reads slowly

    async def send(self, data):
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise OSError(32)
        self.sent.append(data)

    async def close(self, code=1000):
        self.closed_with = code


def test_stream_sends_to_a_websocket_until_its_send_fails():
    hub = Hub()
    ws = WebSocketLike(fail_after=2)

    async def main():
        task = asyncio.create_task(hub.stream(ws, "t"))
        await asyncio.sleep(0)
        assert hub.count("t") == 1
        for i in range(3):
            hub.publish("t", {"i": i})
            await asyncio.sleep(0)
        await asyncio.wait_for(task, 1)

    run(main())
    assert ws.sent == ['{"i": 0}', '{"i": 1}'] and ws.closed_with is None
    assert hub.count() == 0 and hub.dropped == 0


def test_a_websocket_that_falls_behind_is_dropped_then_closed_with_1013():
    hub = Hub()
    gate = asyncio.Event()
    ws = WebSocketLike(gate=gate)

    async def main():
        task = asyncio.create_task(hub.stream(ws, "t", maxlen=2))
        await asyncio.sleep(0)
        for i in range(4):  # m0 is being sent, m1 and m2 fill the queue, m3 drops it
            hub.publish("t", "m%d" % i)
            await asyncio.sleep(0)
        assert hub.dropped == 1 and hub.count() == 0 and not task.done()
        gate.set()  # the send under way is not cut (half a frame): it finishes, then the close
        await asyncio.wait_for(task, 1)

    run(main())
    assert ws.sent == ["m0"] and ws.closed_with == 1013


class RecordingSSE(SSE):
    def __init__(self, leave_after=None, gate=None):
        super().__init__(None, None, (), {})
        self.sent = []
        self.leave_after = leave_after
        self.gate = gate

    async def send(self, data, event=None):
        if self.gate is not None:
            await self.gate.wait()  # as SSE.send waits for room
        self.sent.append((event, data))
        if self.leave_after is not None and len(self.sent) >= self.leave_after:
            self.closed = True  # what SSE.send finds once its client has left


def test_stream_sends_sse_events_named_by_topic_until_the_stream_closes():
    hub = Hub()
    sse = RecordingSSE(leave_after=2)

    async def main():
        task = asyncio.create_task(hub.stream(sse))
        await asyncio.sleep(0)
        hub.publish("temp", {"c": 21})
        await asyncio.sleep(0)
        hub.publish("door", "open")
        await asyncio.wait_for(task, 1)

    run(main())
    assert sse.sent == [("temp", '{"c": 21}'), ("door", "open")]
    assert hub.count() == 0 and hub.dropped == 0


def test_an_event_stream_that_falls_behind_is_dropped_and_ends_at_once():
    hub = Hub()
    sse = RecordingSSE(gate=asyncio.Event())  # never set: a client that stopped reading

    async def main():
        task = asyncio.create_task(hub.stream(sse, maxlen=2))
        await asyncio.sleep(0)
        for i in range(4):
            hub.publish("t", i)
            await asyncio.sleep(0)
        await asyncio.wait_for(task, 1)  # its waiting send was cancelled: the view may return

    run(main())
    assert sse.sent == [] and hub.dropped == 1 and hub.count() == 0


def test_a_cancelled_stream_unsubscribes_and_stays_cancelled():
    hub = Hub()
    ws = WebSocketLike()
    cancelled = []

    async def view():
        try:
            await hub.stream(ws, "t")
        except asyncio.CancelledError:
            cancelled.append(True)

    async def main():
        task = asyncio.create_task(view())
        await asyncio.sleep(0)
        assert hub.count() == 1
        task.cancel()  # what the server does when an SSE client leaves
        await asyncio.wait_for(task, 1)

    run(main())
    assert cancelled == [True] and hub.count() == 0 and hub.dropped == 0
