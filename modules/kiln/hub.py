# A broadcast hub: publish once, deliver to every subscriber of the topic. Each subscriber has a
# bounded queue (a list) and one Event; publish() never waits, so a subscriber that does not keep
# up is dropped (or, with latest=True, keeps only the newest message per topic) instead of
# stalling the others or growing the heap.
import asyncio
import json
import sys

_ALL = "*"


class Closed(Exception):
    """Raised by ``Subscription.get()`` once the subscription is closed, by ``close()`` or
    because the hub dropped it (``sub.dropped``)."""


class Subscription:
    """What ``Hub.subscribe`` returns: ``topic, data = await sub.get()``, or ``async for topic,
    data in sub``; ``close()`` leaves the hub. ``closed`` is True once closed, ``dropped`` once
    the hub dropped it for letting its queue fill up."""

    # Class defaults, set on an instance only once they change: a new subscription's dict holds
    # six attributes, not nine (411 -> 347 bytes a subscription on 64-bit unix).
    closed = False
    dropped = False
    # the task of Hub.stream while it awaits an event stream's send: a drop cancels that send
    _sending = None

    def __init__(self, hub, topics, maxlen, latest):
        self._hub = hub
        self._topics = topics
        self._maxlen = maxlen
        self._latest = latest
        self._queue = []
        self._ready = asyncio.Event()

    def _put(self, item):
        # False when the queue is full and the subscriber must be dropped
        q = self._queue
        if self._latest:
            topic = item[0]
            for i in range(len(q)):
                if q[i][0] == topic:
                    q[i] = item
                    return True
            if len(q) >= self._maxlen:
                q.pop(0)
        elif len(q) >= self._maxlen:
            return False
        q.append(item)
        self._ready.set()
        return True

    async def get(self):
        """The next ``(topic, data)``; waits for one. Raises ``Closed`` once closed (what was
        still queued is discarded)."""
        q = self._queue
        while not q:
            if self.closed:
                raise Closed
            self._ready.clear()
            await self._ready.wait()
        return q.pop(0)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.get()
        except Closed:
            raise StopAsyncIteration from None

    def close(self):
        """Leave the hub at once; a waiting ``get()`` raises ``Closed``. Closing twice is
        harmless."""
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._ready.set()
        self._hub._remove(self)

    def _drop(self):
        self.close()
        self.dropped = True
        self._hub.dropped += 1
        task = self._sending
        if task is not None:
            try:
                task.cancel()
            except RuntimeError:  # the sink's own send published: the next get() ends it
                pass


class Hub:
    """Topics and their subscribers. ``publish(topic, data)`` puts ``(topic, data)`` in the
    queue of each subscriber of ``topic`` and of each subscriber of every topic. ``dropped``
    counts the subscribers dropped so far for letting their queue fill up."""

    def __init__(self):
        self._subs = {}  # topic -> [Subscription]; "*" holds those of every topic
        self._count = 0
        self.dropped = 0

    def subscribe(self, *topics, maxlen=8, latest=False):
        """A new Subscription to ``topics``; none, or ``"*"`` among them, is every topic. It
        queues up to ``maxlen`` messages: when full, the next publish drops the subscriber
        (closed, ``dropped`` set, counted in ``hub.dropped``), or with ``latest=True`` only the
        newest message of each topic is kept (and the oldest goes when ``maxlen`` topics are
        queued)."""
        if maxlen < 1:
            raise ValueError("maxlen")
        if not topics or _ALL in topics:
            topics = (_ALL,)
        sub = Subscription(self, topics, maxlen, latest)
        subs = self._subs
        for topic in topics:
            if topic in subs:
                subs[topic].append(sub)
            else:
                subs[topic] = [sub]
        self._count += 1
        return sub

    def _remove(self, sub):
        subs = self._subs
        for topic in sub._topics:
            group = subs[topic]
            group.remove(sub)
            if not group:  # no empty list left behind per topic ever used
                del subs[topic]
        self._count -= 1

    def publish(self, topic, data):
        """Queue ``data`` for every subscriber of ``topic``; never waits. A dict or list is
        encoded as JSON once, for all of them; str and bytes go as they are. Returns how many
        subscribers got it."""
        if topic == _ALL:
            raise ValueError("publish to a topic, not *")
        t = type(data)
        if t is dict or t is list:
            data = json.dumps(data)
        item = (topic, data)  # one tuple shared by every queue
        n = 0
        slow = None
        subs = self._subs
        for group in (subs.get(topic), subs.get(_ALL)):
            if group:
                for sub in group:
                    if sub._put(item):
                        n += 1
                    elif slow is None:
                        slow = [sub]
                    else:
                        slow.append(sub)
        if slow:  # dropped after the loop: dropping changes the lists it walks
            for sub in slow:
                sub._drop()
        return n

    def count(self, topic=None):
        """How many subscribers there are; with a topic, how many a publish to it reaches
        (``"*"``: those of every topic)."""
        if topic is None:
            return self._count
        subs = self._subs
        n = len(subs.get(_ALL, ()))
        if topic != _ALL:
            n += len(subs.get(topic, ()))
        return n

    async def stream(self, sink, *topics, maxlen=8, latest=False):
        """Subscribe to ``topics`` and send each message to ``sink`` until its client leaves or
        the hub drops the subscription, then unsubscribe and return. A ``kiln.sse.SSE`` sink gets
        ``await sse.send(data, event=topic)``; any other sink (a WebSocket) gets ``await
        sink.send(data)``, and once dropped ``await sink.close(1013)`` ("try again later"). The
        client has left when the SSE is closed, or ``send`` raises ``OSError`` or
        ``kiln.websocket.ConnectionClosed``; any other error propagates. A stream cancelled
        from outside (the server's doing when a client leaves) unsubscribes and stays cancelled.

        A drop cancels an event stream's send that waits for room (it has queued nothing yet),
        so the stream ends at once. A WebSocket's send is left to finish or to fail (the
        server's ``send_timeout``): cancelled, it would leave half a frame on the wire."""
        mods = sys.modules
        sse = mods.get("kiln.sse")
        is_sse = sse is not None and isinstance(sink, sse.SSE)
        ws = mods.get("kiln.websocket")  # loaded already if the sink is a WebSocket
        left = (Closed, OSError, ws.ConnectionClosed) if ws is not None else (Closed, OSError)
        sub = self.subscribe(*topics, maxlen=maxlen, latest=latest)
        task = asyncio.current_task() if is_sse else None
        reader = None
        if ws is not None and isinstance(sink, ws.WebSocket) and sink._task is asyncio.current_task():
            # The view itself streams, so it reads nothing: a task reads (and drops) what the
            # client sends, so that its close or departure ends the stream at once.
            reader = asyncio.create_task(_drain(sink))
        try:
            while True:
                topic, data = await sub.get()
                if is_sse:
                    sub._sending = task
                    await sink.send(data, event=topic)
                    sub._sending = None
                    if sink.closed:
                        return
                else:
                    await sink.send(data)
        except left:
            pass
        except asyncio.CancelledError:
            if not sub.dropped:  # cancelled from outside (the client left): not ours to keep
                raise
        finally:
            sub._sending = None
            sub.close()
            if reader is not None:
                reader.cancel()
        if sub.dropped and not is_sse:
            try:
                await sink.close(1013)
            except left:
                pass


async def _drain(ws):
    async for _ in ws:
        pass
