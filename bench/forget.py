"""Forgetting at size: a batch of N finished jobs, then a person with N faces, on Azurite and SQLite.

Synthetic jobs are written straight into every store (pipelinelogs entities, input images, face crops,
linked content, working copies, SQL rows and labels, persistedfaces rows and a snapshot), as the pipeline
leaves them, without running models. Then each erasure runs once; the table gives, per store, the time
and the storage requests it made (HTTP requests counted at the transport; SQL as statements batches).

    .venv/bin/python bench/forget.py              # 1,000 jobs and a person with 1,000 faces
    .venv/bin/python bench/forget.py --jobs 200   # quicker

Only the ``table`` face index is measured here; the PostgreSQL one is the integrator's to add.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.core.pipeline.transport import RequestsTransport
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.forget.build import build_eraser  # noqa: E402
from pipeline.forget.eraser import ErasureReport  # noqa: E402
from pipeline.forget.target import Target  # noqa: E402
from pipeline.host.azurite import start_azurite  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sql.connection import Database  # noqa: E402
from pipeline.storage import Storage  # noqa: E402
from tests.forget.synthetic import Face, Synthetic  # noqa: E402

_current = ["setup"]
_requests: Counter[str] = Counter()
_send = RequestsTransport.send


def _counting_send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
    _requests[_current[0]] += 1
    return _send(self, request, **kwargs)


def _timed(stores: list[Any], seconds: dict[str, float]) -> None:
    """Wrap each store's erase so its time and requests are attributed to it."""
    for store in stores:
        erase: Callable[..., Any] = store.erase

        def wrapped(scope: Any, erase: Callable[..., Any] = erase, name: str = store.name) -> Any:
            _current[0] = name
            started = time.perf_counter()
            try:
                return erase(scope)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
                _current[0] = "plan, tombstone, audit"

        store.erase = wrapped


def _write(count: int, build: Callable[[int], Any], threads: int = 8) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(build, range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    console = Console(width=150)
    RequestsTransport.send = _counting_send  # type: ignore[method-assign]
    emulator = start_azurite()
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(storage_connection_string=emulator.connection_string, data_dir=Path(folder))
            storage = Storage(settings.storage_connection_string)
            database = Database.from_settings(settings)
            data = Synthetic(storage=storage, database=database)
            started = time.perf_counter()
            others = [data.person() for _ in range(8)]
            _write(args.jobs, lambda i: data.job("bench-batch", f"job-{i:05d}", people=[others[i % 8]],
                                                 link_prints=i % 10 == 0))
            her = data.person()
            faces: list[Face] = []
            first = data.job("bench-people", "her-00000", people=[her])
            faces += first

            def hers(i: int) -> None:
                faces.extend(data.job("bench-people", f"her-{i:05d}", people=[her], matches=first))

            _write(args.jobs - 1, lambda i: hers(i + 1))
            data.snapshot()
            console.print(f"wrote {2 * args.jobs} synthetic jobs in {time.perf_counter() - started:.0f} s "
                          f"({sum(_requests.values())} requests)")
            person = min(f.face_id for f in faces)
            rows: list[tuple[str, ErasureReport, dict[str, float], Counter[str]]] = []
            for label, target in ((f"batch of {args.jobs} jobs", Target.batch("bench-batch")),
                                  (f"person with {args.jobs} faces", Target.person(person))):
                eraser = build_eraser(settings, storage=storage, database=database, settle_seconds=0)
                seconds: dict[str, float] = {}
                _timed(eraser._stores, seconds)
                _requests.clear()
                _current[0] = "plan, tombstone, audit"
                report = eraser.forget(target, trigger="bench")
                rows.append((label, report, seconds, Counter(_requests)))
            database.close()
    finally:
        emulator.stop()

    table = Table(title="forget: time and storage requests per store (Azurite in memory, SQLite, table face index)")
    for column in ("erasure", "store", "removed", "seconds", "requests"):
        table.add_column(column, justify="right" if column in ("seconds", "requests") else "left")
    for label, report, seconds, counted in rows:
        for store in report.stores:
            removed = ", ".join(f"{n} {what}" for what, n in store.removed.items() if n) or "-"
            sql = f" (+{store.requests} SQL)" if store.store == "sql" else ""
            table.add_row(label, store.store, removed + ("  FAILED" if store.failures else ""),
                          f"{seconds.get(store.store, 0):.2f}", f"{counted.get(store.store, 0)}{sql}")
        table.add_row(label, "plan, tombstone, audit", "", "", str(counted.get("plan, tombstone, audit", 0)))
        table.add_row(label, "[b]total[/b]", "complete" if report.complete else "INCOMPLETE",
                      f"[b]{report.seconds:.2f}[/b]", f"[b]{sum(counted.values())}[/b]", end_section=True)
    console.print(table)


if __name__ == "__main__":
    main()
