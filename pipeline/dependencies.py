"""Classifier dependencies from ``dependencies.json`` and the resolver that orders a pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.errors import ConfigurationError

__all__ = ["DEPENDENCIES_FILE", "Dependencies", "UnknownClassifierError"]

DEPENDENCIES_FILE = Path(__file__).resolve().parent.parent / "dependencies.json"


class UnknownClassifierError(ConfigurationError, ValueError):
    """A name that is not a classifier listed in dependencies.json."""


class Dependencies:
    """The classifier → needed classifiers graph, and pipelines ordered from it."""

    def __init__(self, graph: Mapping[str, Iterable[str]]) -> None:
        self._graph = {name: tuple(needs) for name, needs in graph.items()}
        for name, needs in self._graph.items():
            for need in needs:
                if need not in self._graph:
                    raise ConfigurationError(f"dependencies: {name} needs {need!r}, which is not listed")

    @classmethod
    def load(cls, path: Path = DEPENDENCIES_FILE) -> Dependencies:
        with path.open(encoding="utf-8") as f:
            return cls(json.load(f))

    @property
    def classifiers(self) -> tuple[str, ...]:
        return tuple(self._graph)

    def needs(self, classifier: str) -> tuple[str, ...]:
        self._check([classifier])
        return self._graph[classifier]

    def resolve(self, requested: Iterable[str]) -> list[str]:
        """Order the requested classifiers with everything they need first, each once."""
        requested = list(requested)
        self._check(requested)
        ordered: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in ordered:
                return
            if name in visiting:
                raise ConfigurationError(f"dependencies: {name} depends on itself")
            visiting.add(name)
            for need in self._graph[name]:
                visit(need)
            visiting.discard(name)
            ordered.append(name)

        for name in requested:
            visit(name)
        return ordered

    def _check(self, names: list[str]) -> None:
        unknown = [n for n in names if not isinstance(n, str) or n not in self._graph]
        if unknown:
            raise UnknownClassifierError(
                f"unknown classifier(s) {', '.join(map(repr, unknown))}; known: {', '.join(self._graph)}"
            )
