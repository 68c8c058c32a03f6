"""How long each part of a step took, recorded as ``<classifier>_timings`` (``pipeline.job_record``).

``fetch_ms`` getting the image: from the process's cache, the job's working copy or its URL, with the
check that it decodes (absent for steps without an image); ``model_ms`` the classifier call, and within
it ``decode_ms``, the pixels it decoded on first use (full resolution or scaled copies; absent when
none); ``total_ms`` the step from the message's arrival to the merge of its result, which carries
these timings (so the merge and the send are not in them: measuring those would cost a second table
transaction per step; ``bench/pipeline_overhead.py`` measures them). Wall-clock ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PHASES", "StepTimer"]

PHASES = ("fetch_ms", "decode_ms", "model_ms", "total_ms")


class StepTimer:
    """Started when a message arrives; each ``phase`` adds its wall-clock time under a name."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._phases[name] = self._phases.get(name, 0.0) + (time.perf_counter() - start) * 1000

    def add(self, name: str, ms: float) -> None:
        """Add time measured elsewhere (positive only) under a name."""
        if ms > 0:
            self._phases[name] = self._phases.get(name, 0.0) + ms

    def to_json(self) -> str:
        """The phases so far and ``total_ms`` up to now, rounded to 0.1 ms."""
        total = (time.perf_counter() - self._start) * 1000
        return json.dumps({**{k: round(v, 1) for k, v in self._phases.items()}, "total_ms": round(total, 1)})
