"""Forgetting at size: a batch of N finished jobs, then a person with N faces, on Azurite and SQLite, with
each face index backend side by side (``table``: persistedfaces rows + snapshot; ``postgresql``: pgvector).

Synthetic jobs are written straight into every store (pipelinelogs entities, input images, face crops,
linked content, working copies, SQL rows and labels, and the face index through its ``add_and_search``, so
the person is the index's own), as the pipeline leaves them, without running models. Each backend gets a
fresh Azurite and SQLite. Then each erasure runs once; the table gives, per store, the time and the storage
requests it made (HTTP requests counted at the transport; PostgreSQL statements are not counted).

    .venv/bin/python bench/forget.py              # 1,000 jobs and a person with 1,000 faces
    .venv/bin/python bench/forget.py --jobs 200   # quicker
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

from pipeline.dependencies import Dependencies  # noqa: E402
from pipeline.forget.build import build_eraser  # noqa: E402
from pipeline.forget.eraser import ErasureReport  # noqa: E402
from pipeline.forget.target import Target  # noqa: E402
from pipeline.host.azurite import start_azurite  # noqa: E402
from pipeline.services import Services  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.storage import Storage  # noqa: E402
from tests.forget.synthetic import Synthetic  # noqa: E402
from tests.support.pgvector_server import new_database, pgvector_server  # noqa: E402

BACKENDS = ("table", "postgresql")

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


Row = tuple[str, ErasureReport, dict[str, float], Counter[str]]


def _store(name: str) -> str:
    return "face index" if name.startswith("face index") else name


def _measure(backend: str, jobs: int, pgvector: str, console: Console) -> list[Row]:
    """Write the synthetic jobs, then forget the batch and the person; one row per erasure."""
    emulator = start_azurite()
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(storage_connection_string=emulator.connection_string, data_dir=Path(folder),
                                face_index_connection_string=new_database(pgvector) if backend == "postgresql" else "")
            services = Services(settings=settings, storage=Storage(settings.storage_connection_string),
                                dependencies=Dependencies.load())
            data = Synthetic(storage=services.storage, database=services.database, index=services.face_index, seed=7)
            _requests.clear()
            started = time.perf_counter()
            others = [data.person() for _ in range(8)]
            _write(jobs, lambda i: data.job("bench-batch", f"job-{i:05d}", people=[others[i % 8]],
                                            link_prints=i % 10 == 0))
            her = data.person()
            first = data.job("bench-people", "her-00000", people=[her])
            _write(jobs - 1, lambda i: data.job("bench-people", f"her-{i + 1:05d}", people=[her], matches=first))
            data.snapshot()
            person = services.face_index.person_of(first[0].face_id) or ""
            console.print(f"{backend}: wrote {2 * jobs} synthetic jobs in {time.perf_counter() - started:.0f} s "
                          f"({sum(_requests.values())} requests); her person has "
                          f"{len(services.face_index.faces_of(person))} faces")
            rows: list[Row] = []
            for label, target in ((f"batch of {jobs} jobs", Target.batch("bench-batch")),
                                  (f"person with {jobs} faces", Target.person(person))):
                eraser = build_eraser(services, settle_seconds=0)
                seconds: dict[str, float] = {}
                _timed(eraser._stores, seconds)
                _requests.clear()
                _current[0] = "plan, tombstone, audit"
                report = eraser.forget(target, trigger="bench")
                rows.append((label, report, seconds, Counter(_requests)))
            services.database.close()
            close = getattr(services.face_index, "close", None)
            if close is not None:
                close()
            return rows
    finally:
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    console = Console(width=150)
    RequestsTransport.send = _counting_send  # type: ignore[method-assign]
    with pgvector_server() as pgvector:
        measured = {backend: _measure(backend, args.jobs, pgvector, console) for backend in BACKENDS}

    table = Table(title="forget: time and storage requests per store (Azurite in memory, SQLite; face index: "
                        "table vs PostgreSQL + pgvector, whose SQL statements are not counted)")
    for column in ("erasure", "store", "removed", *(f"{b}: {what}" for b in BACKENDS for what in ("s", "requests"))):
        table.add_column(column, justify="right" if ": " in column else "left")
    for number, (label, _, _, _) in enumerate(measured[BACKENDS[0]]):
        per = {backend: measured[backend][number] for backend in BACKENDS}
        names = list(dict.fromkeys(_store(s.store) for backend in BACKENDS for s in per[backend][1].stores))
        for name in names:
            removed: dict[str, str] = {}
            cells: list[str] = []
            for backend in BACKENDS:
                _, report, seconds, counted = per[backend]
                found = [s for s in report.stores if _store(s.store) == name]
                if not found:
                    cells += ["", ""]
                    continue
                store = found[0]
                removed[backend] = (", ".join(f"{n} {what}" for what, n in store.removed.items() if n) or "-") + (
                    "  FAILED" if store.failures else "")
                cells += [f"{seconds.get(store.store, 0):.2f}", str(counted.get(store.store, 0))]
            said = list(dict.fromkeys(removed.values()))
            text = said[0] if len(said) == 1 else "; ".join(f"{b}: {r}" for b, r in removed.items())
            table.add_row(label, name, text, *cells)
        table.add_row(label, "plan, tombstone, audit", "",
                      *(c for b in BACKENDS for c in ("", str(per[b][3].get("plan, tombstone, audit", 0)))))
        complete = all(per[b][1].complete for b in BACKENDS)
        table.add_row(label, "[b]total[/b]", "complete" if complete else "INCOMPLETE",
                      *(c for b in BACKENDS for c in (f"[b]{per[b][1].seconds:.2f}[/b]",
                                                      f"[b]{sum(per[b][3].values())}[/b]")), end_section=True)
    console.print(table)


if __name__ == "__main__":
    main()
