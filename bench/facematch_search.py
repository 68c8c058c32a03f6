"""facematch: search time at 10k, 100k and 1M stored prints, memory of the index, and load time from Azurite.

    .venv/bin/python bench/facematch_search.py [--sizes 10000,100000,1000000] [--rows 5000]

Prints are synthetic random unit vectors (in memory); each query is a stored print plus a
little noise, so every search finds one face. Load time writes ``--rows`` faces into a fresh
table of a private Azurite, then times a worker's first (full) load and an incremental one
(with no overlap, so it reads the 100 new rows and the newest one it had).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifiers.backends.local.face_index import FaceIndex, StoredFace  # noqa: E402
from classifiers.backends.local.face_store import FaceStore  # noqa: E402
from pipeline.host.azurite import start_azurite  # noqa: E402
from pipeline.storage import Storage  # noqa: E402

THRESHOLD = 0.6
QUERIES = 9


def unit_prints(rng: np.random.Generator, n: int) -> np.ndarray:
    prints = rng.standard_normal((n, 128), dtype=np.float32)
    prints /= np.linalg.norm(prints, axis=1, keepdims=True)
    return prints


def build_index(n: int, rng: np.random.Generator) -> tuple[FaceIndex, np.ndarray, float, int]:
    """The index, its prints, seconds to build, and bytes it holds (numpy and Python objects)."""
    prints = unit_prints(rng, n)
    tracemalloc.start()
    started = time.perf_counter()
    index = FaceIndex()
    index.add_arrays(face_ids=[str(uuid.UUID(int=i)) for i in range(n)], prints=prints, job_id="synthetic",
                     batch_id="bench", image_url="https://images.example/x.jpg",
                     rectangles=np.zeros((n, 4), dtype=np.int32))
    seconds = time.perf_counter() - started
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return index, prints, seconds, held


def median_ms(index: FaceIndex, prints: np.ndarray, faces: int, rng: np.random.Generator) -> float:
    times = []
    for _ in range(QUERIES):
        rows = rng.integers(0, len(prints), faces)
        queries = prints[rows] + rng.normal(0, 0.01, (faces, 128)).astype(np.float32)
        started = time.perf_counter()
        hits = index.search(queries, threshold=THRESHOLD, limit=20, exclude_job="query")
        times.append(time.perf_counter() - started)
        assert all(len(h) >= 1 for h in hits), "a query lost its own face"
    return statistics.median(times) * 1000


def load_times(rows: int, rng: np.random.Generator) -> tuple[float, float, int, int]:
    """Seconds of a first full load of ``rows`` faces, ms of an incremental load of 100 new faces,
    rows loaded at first, rows read by the incremental load."""
    azurite = start_azurite()
    try:
        storage = Storage(azurite.connection_string)
        table = storage.table("benchfaces")
        writer = FaceStore(table=table)
        prints = unit_prints(rng, rows + 100)
        faces = [
            StoredFace(face_id=f"face-{i}", job_id=f"job-{i // 4}", batch_id="bench",
                       image_url=f"https://images.example/{i // 4}.jpg", face_rectangle=(1, 2, 3, 4),
                       print=prints[i])
            for i in range(rows + 100)
        ]
        for start in range(0, rows, 100):
            writer.store(faces[start:start + 100])
        reader = FaceStore(table=table, overlap=timedelta(0))
        started = time.perf_counter()
        loaded = reader.refresh()
        full = time.perf_counter() - started
        writer.store(faces[rows:])
        started = time.perf_counter()
        new = reader.refresh()
        incremental = (time.perf_counter() - started) * 1000
        assert loaded == rows and new == 100, (loaded, new)
        return full, incremental, loaded, reader.rows_read
    finally:
        azurite.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)

    lines = []
    for n in (int(s) for s in args.sizes.split(",")):
        index, prints, _, held = build_index(n, rng)
        one = median_ms(index, prints, 1, rng)
        four = median_ms(index, prints, 4, rng)
        lines.append(f"| search, {n:>9,} prints | 1 face {one:7.1f} ms | 4 faces {four:7.1f} ms "
                     f"| memory: arrays {index.nbytes / 2**20:5.0f} MiB, in all {held / 2**20:5.0f} MiB |")
        del index, prints
    full, incremental, loaded, read = load_times(args.rows, rng)
    lines.append(f"| load from Azurite        | first load of {loaded:,} rows {full:5.2f} s "
                 f"({loaded / full:,.0f} rows/s) | incremental load, 100 new rows ({read} read) "
                 f"{incremental:6.1f} ms |")

    load = os.getloadavg()[0]
    print(f"facematch search (median of {QUERIES} queries, threshold {THRESHOLD}, top 20; "
          f"{os.cpu_count()} cores, load average {load:.1f} at the end)")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
