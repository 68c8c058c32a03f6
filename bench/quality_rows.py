"""One measured quality number of ``bench/quality.py``: what each ``bench/quality_*.measure()`` returns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Row"]


@dataclass(frozen=True)
class Row:
    """``value`` of ``metric`` over ``n`` items of ``image_class``; ``target`` as printed, e.g. ``≥ 0.97``."""

    image_class: str
    metric: str
    value: float
    target: str
    n: int
