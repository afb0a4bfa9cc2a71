# TEMPORARY: the part of kiln.hub's API (see the lead's brief) the dashboard uses, for as long
# as kiln.hub has not landed on main; main.py imports kiln.hub first. Delete this file then.
import asyncio
import json


class _Subscription:
    def __init__(self, hub, topics, maxlen, latest):
        self.hub = hub
        self.topics = topics
        self.maxlen = maxlen
        self.latest = latest
        self.queue = []
        self.ready = asyncio.Event()
        self.closed = False
        self.dropped = False

    def put(self, topic, data):
        if len(self.queue) >= self.maxlen:
            if not self.latest:
                self.dropped = True
                self.close()
                return False
            self.queue = [m for m in self.queue if m[0] != topic]
        self.queue.append((topic, data))
        self.ready.set()
        return True

    async def get(self):
        while not self.queue:
            if self.closed:
                raise asyncio.CancelledError
            self.ready.clear()
            await self.ready.wait()
        return self.queue.pop(0)

    def close(self):
        if not self.closed:
            self.closed = True
            self.hub.subscribers.remove(self)
            self.ready.set()


class Hub:
    def __init__(self):
        self.subscribers = []
        self.dropped = 0

    def publish(self, topic, data):
        if type(data) in (dict, list):
            data = json.dumps(data)
        n = 0
        for sub in list(self.subscribers):
            if topic in sub.topics:
                if sub.put(topic, data):
                    n += 1
                else:
                    self.dropped += 1
        return n

    def subscribe(self, *topics, maxlen=8, latest=False):
        sub = _Subscription(self, topics, maxlen, latest)
        self.subscribers.append(sub)
        return sub

    def count(self, topic=None):
        return len([s for s in self.subscribers if topic is None or topic in s.topics])

    async def stream(self, sink, *topics, maxlen=8, latest=False):
        sub = self.subscribe(*topics, maxlen=maxlen, latest=latest)
        websocket = hasattr(sink, "receive")
        try:
            while True:
                topic, data = await sub.get()
                if websocket:
                    await sink.send(data)
                else:
                    await sink.send(data, event=topic)
        finally:
            sub.close()
