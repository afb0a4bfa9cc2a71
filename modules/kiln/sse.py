# Server-sent events (text/event-stream). A `@with_sse` view runs as its own task once the
# response starts and sends events with `await sse.send(...)`; the response streams each event
# as it is sent and ends when the view returns. A client that leaves cancels the view: the
# server learns it when a write fails, so a quiet stream sends a comment now and then.
import asyncio
import json
import sys

from kiln.response import Response
from kiln.routing import Wrapped

# An event's one line longer than this is written from the str given, not copied into the event.
_COPY_MAX = 512


def _field(name, value):
    value = str(value)
    if "\r" in value or "\n" in value:
        raise ValueError("SSE %s may not contain CR or LF" % name)
    return "%s: %s\n" % (name, value)


class SSE:
    """The event sender a ``@with_sse`` view gets; also the response body that streams the
    events."""

    #: Events sent but not yet written; ``send`` waits while this many are queued.
    max_queued = 8
    #: Seconds without an event after which a comment line goes out: it keeps proxies from
    #: closing the stream and shows the server a client that has left.
    heartbeat = 15

    def __init__(self, view, request, args, kwargs):
        self._view = (view, request, args, kwargs)
        self._queue = []
        # each event is cleared only by the one side that waits on it, just before it waits
        self._has_event = asyncio.Event()
        self._has_room = asyncio.Event()
        self._task = None
        self._parts = None  # what is left to write of an event sent in parts
        self.closed = False

    async def send(self, data, event=None, event_id=None, retry=None, comment=False):
        """Send one event. ``data`` is a str, bytes, or a dict/list sent as JSON; ``event``
        names its type, ``event_id`` sets the id a reconnecting client sends back, ``retry``
        (seconds) its reconnection delay. ``comment=True`` sends ``data`` as a comment (a
        heartbeat clients ignore)."""
        t = type(data)
        if t is dict or t is list:
            data = json.dumps(data)
        elif t is bytes:
            data = data.decode()
        text = str(data)
        if comment:
            field = ": %s\n"
            out = ""
        else:
            field = "data: %s\n"
            out = _field("id", event_id) if event_id is not None else ""
            if event:
                out += _field("event", event)
            if retry is not None:
                out += "retry: %d\n" % int(retry * 1000)
        if "\n" in text or "\r" in text:
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            out += "".join(field % line for line in lines) + "\n"
        elif len(text) > _COPY_MAX:
            # one long line (a JSON document, maybe one str shared by a hub's subscribers): sent
            # as it is, between its field name and the blank line, never copied
            out = (out + field[:-3], text, "\n\n")
        else:
            out += field % text + "\n"
        while len(self._queue) >= self.max_queued and not self.closed:
            self._has_room.clear()
            await self._has_room.wait()
        if not self.closed:
            self._queue.append(out)
            self._has_event.set()

    async def _run(self):
        view, request, args, kwargs = self._view
        try:
            await view(request, self, *args, **kwargs)
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001 - the response has begun: log it, end the stream
            print("Kiln: the event stream of %s %s failed" % (request.method, request.path))
            sys.print_exception(e)
        self.closed = True
        self._has_event.set()

    def __aiter__(self):
        return self

    async def __anext__(self):
        parts = self._parts
        if parts:
            return parts.pop(0)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._has_event.clear()
            try:
                await asyncio.wait_for(self._has_event.wait(), self.heartbeat)
            except asyncio.TimeoutError:
                return ":\n\n"
        self._has_room.set()
        event = self._queue.pop(0)
        if type(event) is tuple:
            self._parts = [event[1], event[2]]
            return event[0]
        return event

    def close(self):
        """Stop the view (the server calls this when the client leaves)."""
        if not self.closed:
            self.closed = True
            if self._task is not None:
                self._task.cancel()
            self._has_event.set()
            self._has_room.set()


def sse_response(request, event_function, *args, **kwargs):
    """A Response streaming the events ``await event_function(request, sse, *args, **kwargs)``
    sends."""
    return Response(SSE(event_function, request, args, kwargs),
                    headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})


def with_sse(f):
    """Decorator: ``async def view(request, sse, ...)`` answers with an event stream of what it
    sends with ``await sse.send(data, event=None, event_id=None, retry=None, comment=False)``."""

    def view(request, *args, **kwargs):
        return sse_response(request, f, *args, **kwargs)

    return Wrapped(view, f, False)
