"""The two face index backends side by side: table (Azurite + in-memory search) and postgresql (pgvector).

    .venv/bin/python bench/face_index.py --sizes 10000 100000
    .venv/bin/python bench/face_index.py --sizes 1000000            # table in memory, postgresql through COPY
    .venv/bin/python bench/face_index.py --sizes 1000000 --backends postgresql

Synthetic prints shaped like dlib's (different people 0.8 apart on average, as in docs/facematch.md), plus
planted persons (5 faces each within 0.15 of a centre) and one query near each centre. Per backend and
size: bulk insert rate, search p50/p99 (k = 20 within 0.5), a whole facematch job p50/p99 (lock, refresh,
search, persons, insert), recall against exact search on the planted sets, and a new worker process's
cold start (to its first search) and peak RSS. Azurite and PostgreSQL are private, started here.
From ``--table-in-memory-from`` faces on (1M: Azurite takes ~20 minutes to load it), table is measured in a
worker process that reads the prints straight into its in-memory index: search, recall, RSS and bytes a face
(no facematch job or cold start; the snapshot load at 1M is in docs/cold_start.md). PostgreSQL is loaded with
a binary COPY, then its HNSW index is built once (maintenance_work_mem 2 GB, one parallel worker).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifiers.backends.face_index import JobKey, NewFace, person_for_face  # noqa: E402
from classifiers.backends.local.face_index import StoredFace  # noqa: E402
from classifiers.backends.local.face_snapshot import FaceSnapshots  # noqa: E402
from classifiers.backends.local.face_store import FaceStore  # noqa: E402
from classifiers.backends.local.table_face_index import TABLE_OVERLAP, TableFaceIndex  # noqa: E402
from classifiers.backends.postgres.face_index import PostgresFaceIndex, vector_text  # noqa: E402
from classifiers.backends.postgres.schema import FACES, PERSONS, create_schema  # noqa: E402

THRESHOLD, K, PLANTED, PER_PERSON, JOBS = 0.5, 20, 100, 5, 100


def synthetic(rng: np.random.Generator, n: int, mean: np.ndarray) -> np.ndarray:
    u = rng.standard_normal((n, 128)).astype(np.float32)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return (mean + 0.57 * u).astype(np.float32)  # two of them ~0.8 apart


def near(rng: np.random.Generator, centres: np.ndarray, distance: float) -> np.ndarray:
    step = rng.standard_normal(centres.shape).astype(np.float32)
    return (centres + distance * step / np.linalg.norm(step, axis=1, keepdims=True)).astype(np.float32)


def dataset(n: int, seed: int = 7) -> tuple[np.ndarray, list[str], np.ndarray]:
    """n stored prints (the planted persons' faces among them) and one query per planted person."""
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(128).astype(np.float32)
    mean *= 0.5 / np.linalg.norm(mean)
    centres = synthetic(rng, PLANTED, mean)
    planted = np.concatenate([near(rng, centres, 0.15) for _ in range(PER_PERSON)])
    prints = np.concatenate([synthetic(rng, n - len(planted), mean), planted])
    ids = [f"s{i:08d}" for i in range(n)]
    return prints, ids, near(rng, centres, 0.15)


def exact(prints: np.ndarray, queries: np.ndarray) -> list[set[str]]:
    found = []
    for q in queries:
        d = np.linalg.norm(prints - q, axis=1)
        rows = np.flatnonzero(d <= THRESHOLD)
        found.append({f"s{i:08d}" for i in rows[np.argsort(d[rows])][:K]})
    return found


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) * 1000


# --- loading --------------------------------------------------------------------------------------------


def load_table(conn: str, table: str, container: str, prints: np.ndarray, ids: list[str]) -> float:
    from pipeline.storage import Storage

    storage = Storage(conn)
    store = FaceStore(table=storage.table(table), snapshots=FaceSnapshots(container=storage.container(container)))
    started = time.perf_counter()
    for start in range(0, len(ids), 1000):
        store.store([StoredFace(face_id=ids[i], job_id=f"j{i}", batch_id="bench", image_url=f"u/{i}",
                                face_rectangle=(0, 0, 50, 50), print=prints[i])
                     for i in range(start, min(start + 1000, len(ids)))])
    seconds = time.perf_counter() - started
    store.refresh()
    FaceSnapshots(container=storage.container(container)).save(store.index.to_arrays(), store._newest)  # type: ignore[arg-type]
    return len(ids) / seconds


def _field(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def _binary_rows(prints: np.ndarray, ids: list[str], start: int, stop: int) -> bytes:
    """Rows of COPY's binary format for faces start..stop: texts, four int4 and pgvector's binary form
    (int16 dimensions, int16 unused, float4 big-endian)."""
    vectors = np.ascontiguousarray(prints[start:stop], dtype=">f4")
    rect = b"".join(_field(struct.pack(">i", v)) for v in (0, 0, 50, 50))
    head, bench = struct.pack(">h", 10), _field(b"bench")
    vector_head = struct.pack(">ihh", 4 + 4 * vectors.shape[1], vectors.shape[1], 0)
    return b"".join(
        head + _field(ids[i].encode()) + bench + _field(f"j{i}".encode()) + _field(f"u/{i}".encode()) + rect
        + vector_head + vectors[i - start].tobytes() + _field(person_for_face(ids[i]).encode())
        for i in range(start, stop))


def load_postgres(conn: str, prints: np.ndarray, ids: list[str]) -> tuple[float, float]:
    """Rows per second of the COPY, and seconds to build the HNSW index after it."""
    import psycopg

    with psycopg.connect(conn, autocommit=True) as c:
        create_schema(c)
        # A bulk load fills the table first (binary COPY) and builds the HNSW index once, as pgvector advises,
        # with the graph in memory (maintenance_work_mem) and one parallel worker beside the leader (2 cores).
        c.execute(f"DROP INDEX {FACES}_print")
        c.execute("SET maintenance_work_mem = '2GB'")
        c.execute("SET max_parallel_maintenance_workers = 1")
        started = time.perf_counter()
        with c.cursor() as cur, cur.copy(f"COPY {PERSONS} (person_id) FROM STDIN") as copy:
            for face_id in ids:
                copy.write_row((person_for_face(face_id),))
        with c.cursor() as cur, cur.copy(
                f"COPY {FACES} (face_id, batch_id, job_id, image_url, rect_left, rect_top, rect_width, rect_height, "
                "print, person_id) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
            for start in range(0, len(ids), 10_000):
                copy.write(_binary_rows(prints, ids, start, min(start + 10_000, len(ids))))
            copy.write(struct.pack(">h", -1))
        loaded = time.perf_counter()
        c.execute(f"CREATE INDEX {FACES}_print ON {FACES} USING hnsw (print vector_l2_ops)")
        built = time.perf_counter()
        c.execute(f"ANALYZE {FACES}")
    return len(ids) / (loaded - started), built - loaded


def table_in_memory(n: int, prints_file: str, queries_file: str) -> dict[str, float]:
    """The table backend's worker at sizes too large to load through Azurite: this process reads the prints
    from a file in slices into the worker's in-memory index (as the snapshot load does, with a job and a person
    per face) and measures search, recall is computed by the caller; RSS before and after gives bytes a face."""
    from classifiers.backends.local.face_index import FaceIndex

    def rss() -> int:
        return next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmRSS:"))

    queries = np.load(queries_file)
    index = FaceIndex()
    index.search(queries[:1], threshold=THRESHOLD, limit=K)  # numpy's BLAS loaded before the baseline
    before = rss()
    started = time.perf_counter()
    with open(prints_file, "rb") as f:
        for start in range(0, n, 50_000):
            block = np.fromfile(f, dtype=np.float32, count=min(50_000, n - start) * 128).reshape(-1, 128)
            index.add(StoredFace(face_id=f"s{i:08d}", job_id=f"job-{i // 2:08d}", batch_id="bench",
                                 image_url=f"https://imaginemstore.blob.core.windows.net/images/job-{i // 2:08d}.jpg",
                                 face_rectangle=(120, 80, 96, 96), print=block[i - start],
                                 person_id=person_for_face(f"s{i:08d}"))
                      for i in range(start, start + len(block)))
    load = time.perf_counter() - started
    after = rss()
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        [hits] = index.search(q[None, :], threshold=THRESHOLD, limit=K)
        times.append(time.perf_counter() - t)
        found.append([h.face_id for h in hits])
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    return {"search_p50": pct(times, 50), "search_p99": pct(times, 99), "rss_mib": peak / 1024,
            "bytes_per_face": (after - before) / n, "rate": n / load, "found": found}  # type: ignore[dict-item]


# --- one worker (also run as a fresh process for cold start and RSS) -------------------------------------


def make_worker(args: argparse.Namespace) -> TableFaceIndex | PostgresFaceIndex:
    if args.backend == "postgresql":
        return PostgresFaceIndex.connect(args.conn)
    from pipeline.storage import Storage

    storage = Storage(args.conn)
    store = FaceStore(table=storage.table(args.table), refresh_interval=0, overlap=TABLE_OVERLAP,
                      snapshots=FaceSnapshots(container=storage.container(args.container)))
    return TableFaceIndex(store=store, lock_container=storage.container(args.container))


def search_only(index: TableFaceIndex | PostgresFaceIndex, query: np.ndarray, ef_search: int = 100) -> list[str]:
    if isinstance(index, TableFaceIndex):  # the search alone; a facematch job's refresh is in the job column
        store = index._store
        if not len(store):
            store.refresh()
        [hits] = store.index.search(query[None, :], threshold=THRESHOLD, limit=K)
        return [h.face_id for h in hits]
    with index._pool.connection() as conn, conn.transaction():
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
        job = JobKey(batch_id="-", job_id="-", image_url="")
        return [h.face.face_id for h in index._search(conn, vector_text(query), THRESHOLD, K, job, 0)]


def cold_worker(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    index = make_worker(args)
    search_only(index, np.zeros(128, dtype=np.float32))
    cold = time.perf_counter() - started
    rss = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmHWM:"))
    print(json.dumps({"cold_s": cold, "rss_mib": rss / 1024}))


def measure(args: argparse.Namespace, queries: np.ndarray, truth: list[set[str]]) -> dict[str, float]:
    index = make_worker(args)
    search_only(index, queries[0])  # warm
    times, recalls = [], []
    for q, expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        got = search_only(index, q)
        times.append(time.perf_counter() - started)
        recalls.append(len(set(got) & expected) / len(expected) if expected else 1.0)
    for ef in args.ef_search if args.backend == "postgresql" else []:
        swept, found = [], []
        for q, expected in zip(queries, truth, strict=True):
            started = time.perf_counter()
            got = search_only(index, q, ef)
            swept.append(time.perf_counter() - started)
            found.append(len(set(got) & expected) / len(expected) if expected else 1.0)
        print(f"# postgresql {len(truth)} queries, ef_search {ef}: recall {statistics.mean(found):.3f}, "
              f"search p50 {pct(swept, 50):.1f} ms, p99 {pct(swept, 99):.1f} ms", file=sys.stderr, flush=True)
    jobs = []
    rng = np.random.default_rng(11)
    for i in range(JOBS):
        face = NewFace(face_id=f"job-{uuid.uuid4().hex}", face_rectangle=(0, 0, 9, 9),
                       print=queries[i % len(queries)] + rng.normal(0, 0.005, 128).astype(np.float32))
        started = time.perf_counter()
        index.add_and_search(JobKey(batch_id="jobs", job_id=f"job-{i}", image_url="u"), [face],
                             threshold=THRESHOLD, limit=K)
        jobs.append(time.perf_counter() - started)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cold = json.loads(subprocess.run([sys.executable, __file__, "--cold", "--backend", args.backend, "--conn",
                                      args.conn, "--table", args.table, "--container", args.container],
                                     check=True, capture_output=True, text=True, env=env).stdout)
    return {"search_p50": pct(times, 50), "search_p99": pct(times, 99), "job_p50": pct(jobs, 50),
            "job_p99": pct(jobs, 99), "recall": statistics.mean(recalls), **cold}


def measure_table_in_memory(n: int, prints: np.ndarray, queries: np.ndarray,
                            truth: list[set[str]]) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="imaginem-bench-") as folder:
        prints.tofile(f"{folder}/prints.f32")
        np.save(f"{folder}/queries.npy", queries)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        m = json.loads(subprocess.run([sys.executable, __file__, "--memory-worker", str(n), "--conn", folder],
                                      check=True, capture_output=True, text=True, env=env).stdout)
    found = m.pop("found")
    m["recall"] = statistics.mean(len(set(got) & expected) / len(expected) if expected else 1.0
                                  for got, expected in zip(found, truth, strict=True))
    return m.pop("rate"), m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", choices=["table", "postgresql"], default=["table", "postgresql"])
    parser.add_argument("--table-in-memory-from", type=int, default=1_000_000,
                        help="from this size on, table is measured in memory only (Azurite loads ~1k rows/s)")
    parser.add_argument("--ef-search", type=int, nargs="*", default=[],
                        help="postgresql: also measure search and recall at these hnsw.ef_search values")
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="table", help=argparse.SUPPRESS)
    parser.add_argument("--conn", default="", help=argparse.SUPPRESS)
    parser.add_argument("--table", default="", help=argparse.SUPPRESS)
    parser.add_argument("--container", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        cold_worker(args)
        return
    if args.memory_worker:
        print(json.dumps(table_in_memory(args.memory_worker, f"{args.conn}/prints.f32", f"{args.conn}/queries.npy")))
        return

    from pipeline.host.azurite import start_azurite
    from tests.support.pgvector_server import new_database, pgvector_server

    rows: list[tuple[str, int, float, dict[str, float]]] = []
    builds: dict[int, float] = {}
    azurite = start_azurite() if "table" in args.backends else None
    try:
        with pgvector_server() as admin:
            for n in args.sizes:
                prints, ids, queries = dataset(n)
                truth = exact(prints, queries)
                if "table" in args.backends and n >= args.table_in_memory_from:
                    rate, m = measure_table_in_memory(n, prints, queries, truth)
                    rows.append(("table (in memory)", n, rate, m))
                    print(f"# table {n} in memory: done", file=sys.stderr, flush=True)
                elif "table" in args.backends and azurite is not None:
                    tag = uuid.uuid4().hex[:8]
                    table = argparse.Namespace(backend="table", conn=azurite.connection_string,
                                               table=f"bench{tag}", container=f"bench{tag}", ef_search=[])
                    rate = load_table(table.conn, table.table, table.container, prints, ids)
                    rows.append(("table", n, rate, measure(table, queries, truth)))
                    print(f"# table {n}: done", file=sys.stderr, flush=True)
                if "postgresql" in args.backends:
                    pg = argparse.Namespace(backend="postgresql", conn=new_database(admin), table="", container="",
                                            ef_search=args.ef_search)
                    rate, builds[n] = load_postgres(pg.conn, prints, ids)
                    print(f"# postgresql {n}: loaded at {rate:,.0f}/s, HNSW built in {builds[n]:.0f} s",
                          file=sys.stderr, flush=True)
                    rows.append(("postgresql", n, rate, measure(pg, queries, truth)))
                    print(f"# postgresql {n}: done", file=sys.stderr, flush=True)
    finally:
        if azurite is not None:
            azurite.stop()
    print(f"face index backends (synthetic dlib-like prints, {PLANTED} planted persons × {PER_PERSON}, "
          f"k = {K} within {THRESHOLD}; {os.cpu_count()} cores)")
    print("| backend | faces | bulk insert | search p50 | search p99 | facematch job p50 | job p99 | recall | "
          "cold start | worker RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for backend, n, rate, m in rows:
        job = f"{m['job_p50']:.1f} ms | {m['job_p99']:.1f} ms" if "job_p50" in m else "— | —"
        cold = f"{m['cold_s']:.2f} s" if "cold_s" in m else "—"
        print(f"| {backend} | {n:,} | {rate:,.0f}/s | {m['search_p50']:.1f} ms | {m['search_p99']:.1f} ms | "
              f"{job} | {m['recall']:.3f} | {cold} | {m['rss_mib']:.0f} MiB |")
    for backend, n, _, m in rows:
        if "bytes_per_face" in m:
            print(f"{backend} at {n:,}: {m['bytes_per_face']:,.0f} bytes a face in the worker's index")
    for n, seconds in builds.items():
        print(f"postgresql at {n:,}: HNSW index built in {seconds:.0f} s after the COPY")


if __name__ == "__main__":
    main()
