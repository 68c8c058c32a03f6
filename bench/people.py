"""People pages on both face index backends, side by side: the first page of persons and a person's page.

    .venv/bin/python bench/people.py --persons 10000 --faces 100000

Synthetic persons with a skewed number of faces (a few with thousands, most with a handful, as in a family
photo library), 1-4 faces per photo, every tenth person named; inserted directly into each backend (table:
a snapshot blob + the ``persistedfaces`` table on a private Azurite, as a cold worker loads it;
postgresql: COPY into a private PostgreSQL with pgvector). Timed: ``people_page`` (48 persons with their
best face) and ``person_page`` (48 photos with their faces) of ``dashboard.people_api`` — what
``GET /api/people`` and ``GET /api/people/{id}`` ask the index — the first call of a new worker and the
median / p95 of 30 warm calls, for the largest person and a typical one; a search by part of a name
("person 1": 1,111 of the named persons). Also a rename + listing again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifiers.backends.face_index import FaceIndexBackend  # noqa: E402
from classifiers.backends.local.face_index import FaceIndex, IndexArrays  # noqa: E402
from classifiers.backends.local.face_snapshot import FaceSnapshots  # noqa: E402
from classifiers.backends.local.face_store import FaceStore  # noqa: E402
from classifiers.backends.local.table_face_index import TABLE_OVERLAP, TableFaceIndex  # noqa: E402
from classifiers.backends.postgres.face_index import PostgresFaceIndex  # noqa: E402
from classifiers.backends.postgres.person_counts import recount_all  # noqa: E402
from classifiers.backends.postgres.schema import FACES, PERSONS, create_schema  # noqa: E402
from dashboard.people_api import people_page, person_page  # noqa: E402

RUNS = 30
TARGET_MS = 300


def library(persons: int, faces: int, seed: int = 11) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Person ids, and per face: its person number, its photo number and its print."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, persons + 1) ** 1.1  # Zipf-like: the family first, then acquaintances
    counts = 1 + rng.multinomial(faces - persons, weights / weights.sum())
    owner = np.repeat(np.arange(persons), counts)
    rng.shuffle(owner)
    per_photo = rng.integers(1, 5, size=faces)
    photo = np.repeat(np.arange(faces), per_photo)[:faces]  # consecutive faces share a photo
    prints = rng.standard_normal((faces, 128)).astype(np.float32) * 0.05
    ids = [str(uuid.UUID(int=int(i) + 1)) for i in range(persons)]
    return ids, owner, photo, prints


def face_id(i: int) -> str:
    return f"f{i:08d}"


def load_table(conn: str, tag: str, ids: list[str], owner: np.ndarray, photo: np.ndarray,
               prints: np.ndarray) -> TableFaceIndex:
    from pipeline.storage import Storage

    storage = Storage(conn)
    jobs = [(f"j{p:07d}", "bench", f"http://127.0.0.1/devstoreaccount1/inputimages/bench/j{p:07d}.jpg")
            for p in range(int(photo.max()) + 1)]
    n = len(owner)
    rects = np.tile(np.array([40, 40, 80, 80], dtype=np.int32), (n, 1))
    rects[:, 2] += (np.arange(n) % 50).astype(np.int32)  # faces of different sizes: a best face to find
    arrays = IndexArrays(face_ids=[face_id(i) for i in range(n)], prints=prints, job_numbers=photo.astype(np.int32),
                         rectangles=rects, jobs=jobs, persons=[ids[o] for o in owner.tolist()],
                         names={ids[i]: f"Person {i}" for i in range(0, len(ids), 10)})
    FaceIndex.from_arrays(arrays)  # checks the arrays
    container = storage.container(f"people{tag}")
    FaceSnapshots(container=container).save(arrays, datetime.now(UTC))
    store = FaceStore(table=storage.table(f"people{tag}"), snapshots=FaceSnapshots(container=container),
                      refresh_interval=0, overlap=TABLE_OVERLAP)
    return TableFaceIndex(store=store, lock_container=container)


def load_postgres(conn: str, ids: list[str], owner: np.ndarray, photo: np.ndarray, prints: np.ndarray) -> None:
    import psycopg

    with psycopg.connect(conn, autocommit=True) as c:
        create_schema(c)
        c.execute(f"DROP INDEX {FACES}_print")  # not used by these pages; building it costs minutes on 2 cores
        with c.cursor() as cur, cur.copy(f"COPY {PERSONS} (person_id, name) FROM STDIN") as copy:
            for i, person in enumerate(ids):
                copy.write_row((person, f"Person {i}" if i % 10 == 0 else None))
        with c.cursor() as cur, cur.copy(
                f"COPY {FACES} (face_id, batch_id, job_id, image_url, rect_left, rect_top, rect_width, rect_height, "
                "print, person_id) FROM STDIN") as copy:
            for i in range(len(owner)):
                text = "[" + ",".join(f"{v:.3f}" for v in prints[i].tolist()) + "]"
                p = int(photo[i])
                copy.write_row((face_id(i), "bench", f"j{p:07d}", f"http://127.0.0.1/i/j{p:07d}.jpg", 40, 40,
                                80 + i % 50, 80, text, ids[int(owner[i])]))
        c.execute(f"VACUUM ANALYZE {FACES}")  # as autovacuum would: index-only scans need the visibility map
        recount_all(c)  # COPY bypasses the index, which counts each person as its faces change
        c.execute(f"VACUUM ANALYZE {PERSONS}")


def timed(call: object) -> float:
    started = time.perf_counter()
    call()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def measure(index: FaceIndexBackend, largest: str, typical: str) -> dict[str, float]:
    found: dict[str, float] = {}
    found["load"] = timed(lambda: index.person_of("-"))  # a new worker's first read (the table: its snapshot)
    found["people_first"] = timed(lambda: people_page(index, limit=48))
    found["person_first"] = timed(lambda: person_page(index, largest, limit=48))
    for name, call in (("people", lambda: people_page(index, limit=48)),
                       ("people_p3", lambda: people_page(index, offset=96, limit=48)),
                       ("search", lambda: people_page(index, limit=48, name="person 1")),
                       ("largest", lambda: person_page(index, largest, limit=48)),
                       ("typical", lambda: person_page(index, typical, limit=48))):
        runs = sorted(timed(call) for _ in range(RUNS))
        found[f"{name}_p50"] = statistics.median(runs)
        found[f"{name}_p95"] = runs[int(0.95 * (RUNS - 1))]
    index.rename(typical, "Renamed Now")
    found["after_rename"] = timed(lambda: people_page(index, limit=48))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--faces", type=int, default=100_000)
    args = parser.parse_args()

    from pipeline.host.azurite import start_azurite
    from tests.support.pgvector_server import new_database, pgvector_server

    ids, owner, photo, prints = library(args.persons, args.faces)
    counts = np.bincount(owner, minlength=len(ids))
    largest = ids[int(counts.argmax())]
    typical = ids[int(np.flatnonzero(counts == int(np.median(counts)))[0])]
    rows: list[tuple[str, float, dict[str, float]]] = []
    azurite = start_azurite()
    try:
        with pgvector_server() as admin:
            started = time.perf_counter()
            table = load_table(azurite.connection_string, uuid.uuid4().hex[:8], ids, owner, photo, prints)
            rows.append(("table", time.perf_counter() - started, measure(table, largest, typical)))
            print("# table: done", file=sys.stderr, flush=True)
            conn = new_database(admin)
            started = time.perf_counter()
            load_postgres(conn, ids, owner, photo, prints)
            loaded = time.perf_counter() - started
            index = PostgresFaceIndex.connect(conn)
            index._schema_ready = True  # made above; its check would rebuild the print index dropped for the load
            try:
                rows.append(("postgresql", loaded, measure(index, largest, typical)))
            finally:
                index.close()
            print("# postgresql: done", file=sys.stderr, flush=True)
    finally:
        azurite.stop()
    print(f"People pages: {args.persons:,} persons, {args.faces:,} faces in {int(photo.max()) + 1:,} photos; largest "
          f"person {int(counts.max()):,} faces, typical {int(np.median(counts))}; 48 per page; ms, "
          f"{RUNS} warm runs; {os.cpu_count()} cores; target ≤ {TARGET_MS} ms")
    print("| backend | bulk load | worker's first read | People 1st call | People p50 / p95 | People page 3 p50 | "
          "search by name p50 / p95 | person (largest) 1st | largest p50 / p95 | typical p50 / p95 | "
          "People after a rename |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for backend, loaded, m in rows:
        cells = [backend, f"{loaded:.1f} s", f"{m['load']:.0f}", f"{m['people_first']:.0f}",
                 f"{m['people_p50']:.1f} / {m['people_p95']:.1f}", f"{m['people_p3_p50']:.1f}",
                 f"{m['search_p50']:.1f} / {m['search_p95']:.1f}",
                 f"{m['person_first']:.0f}", f"{m['largest_p50']:.1f} / {m['largest_p95']:.1f}",
                 f"{m['typical_p50']:.1f} / {m['typical_p95']:.1f}", f"{m['after_rename']:.0f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
