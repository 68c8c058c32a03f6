"""A value built on first use, once, even with several threads asking at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """Builds a value on first use, once, even with several threads asking at the same time."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()
        self._configure: list[Callable[[T], None]] = []

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    value = self._build()
                    for configure in self._configure:
                        configure(value)
                    self._value = value
        return self._value

    def then(self, configure: Callable[[T], None]) -> None:
        """Call ``configure`` with the value once it is built (at once if it already is)."""
        with self._lock:
            if self._value is None:
                self._configure.append(configure)
                return
        configure(self._value)
