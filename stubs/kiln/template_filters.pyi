from typing import Any, Callable

FILTERS: dict[str, Callable[..., Any]]
TESTS: dict[str, Callable[..., Any]]
