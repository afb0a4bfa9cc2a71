from typing import Any, Awaitable, Callable

class MQTTError(Exception):
    """The broker refused the connection or a subscription, or broke the protocol."""

class MQTTClient:
    """One connection to an MQTT 3.1.1 broker (QoS 0 and 1, TCP or TLS)."""

    connect_timeout: int
    ack_timeout: int
    max_packet: int
    max_queue: int
    min_backoff: int
    max_backoff: int
    client_id: str
    host: str
    port: int
    user: str | None
    password: str | None
    keepalive: int
    ssl: Any
    clean: bool
    will: tuple[Any, ...] | None
    callback: Callable[[str, bytes, bool], Any] | None
    connected: bool
    connections: int
    dropped: int
    last_error: BaseException | None
    def __init__(
        self,
        client_id: str,
        host: str,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        keepalive: int = 60,
        ssl: Any = None,
        clean: bool = True,
        will: tuple[Any, ...] | None = None,
        callback: Callable[[str, bytes, bool], Any] | None = None,
    ) -> None: ...
    async def connect(self) -> None: ...
    async def run(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> bool: ...
    async def subscribe(self, topic: str, qos: int = 0) -> int | None: ...
    async def unsubscribe(self, topic: str) -> None: ...
    async def receive(self) -> tuple[str, bytes, bool]: ...
    def messages(self) -> MQTTClient: ...
    def __aiter__(self) -> MQTTClient: ...
    def __anext__(self) -> Awaitable[tuple[str, bytes, bool]]: ...
