from typing import Any, Callable, Iterator

def register_converter(
    name: str, pattern: str = "[^/]+", to_python: Callable[[str], Any] | None = None, to_url: Callable[[Any], str] = ...
) -> None:
    """Add a path converter `<name:arg>`: its regex (no groups), and how a value is parsed and built."""

class URLPattern:
    """Microdot's name for the converter registry."""

    @staticmethod
    def register_type(type_name: str, pattern: str = "[^/]+", parser: Callable[[str], Any] | None = None) -> None: ...

def is_async(f: Any) -> bool: ...
def endpoint_info(f: Any) -> tuple[Any, bool]: ...

class Wrapped:
    def __init__(self, call: Callable[..., Any], f: Any, is_async: bool = True) -> None: ...

class Rule:
    """One URL pattern with the views of each of its methods; `entry` is its router's index tuple."""

    entry: tuple[Any, ...]
    parts: list[Any] | None
    def __init__(self, entry: tuple[Any, ...], caller: Callable[..., Any] | None = None) -> None: ...
    def caller(self, f: Callable[..., Any], r: Any, a: Any) -> Any: ...
    def call(self, view: Callable[..., Any], request: Any, args: dict[str, Any]) -> Any:
        """Call `view` with `request` and the arguments `args` (a dict by name)."""
    @property
    def methods(self) -> dict[str, Endpoint]: ...
    @property
    def pattern(self) -> str: ...
    def build(self, params: dict[str, Any]) -> str:
        """The path of this rule with `params`' values (popped from it)."""

class Endpoint:
    """A view registered for one method of one rule."""

    func: Callable[..., Any]
    rule: Rule | None
    sync: bool
    is_async: bool
    local: Any
    last: tuple[int, Any, Any] | None
    def __init__(self, name: str, func: Callable[..., Any], is_async: bool, rule: Rule | None) -> None: ...
    @property
    def name(self) -> str: ...

class Table:
    """A dict split into small dicts, for names that grow with the number of routes: get, set,
    `in` and items()."""

    parts: dict[int, dict[Any, Any]]
    def __init__(self) -> None: ...
    def get(self, key: Any, default: Any = None) -> Any: ...
    def __setitem__(self, key: Any, value: Any) -> None: ...
    def __contains__(self, key: Any) -> bool: ...
    def items(self) -> Iterator[tuple[Any, Any]]: ...

class Rules:
    """Every rule of a router, in registration order: items() gives (pattern, rule) pairs,
    get(pattern) a rule or None."""

    chunks: list[list[Rule]]
    def __init__(self) -> None: ...
    def append(self, rule: Rule) -> None: ...
    def items(self) -> Iterator[tuple[str, Rule]]: ...
    def get(self, pattern: str, default: Any = None) -> Any: ...

class Router:
    """The URL map of one app."""

    static: dict[str, dict[str, Endpoint]]
    index: dict[int, dict[int, Any]]
    loose: dict[int, Any]
    groups: Any
    wild: dict[int, Any] | None
    rules: Rules
    endpoints: dict[str, Endpoint] | Table
    added: int
    def __init__(self) -> None: ...
    def add(self, pattern: str, methods: Any, func: Callable[..., Any], endpoint: str | None = None) -> Endpoint: ...
    def find(self, path: str) -> tuple[dict[str, Endpoint] | None, dict[str, Any] | None]:
        """({method: Endpoint}, args) of the first rule matching path, or (None, None)."""
    def match(self, path: str) -> list[Any] | None:
        """[entry, argument] of the first dynamic rule matching path, or None: `last_match`,
        filled again by each match."""
    @staticmethod
    def args(m: list[Any]) -> dict[str, Any]:
        """The arguments by name of the rule of match `m`."""

last_match: list[Any]

def urlencode(pairs: Any) -> str: ...
