"""Cold start: facematch's face store from the table versus from a snapshot, and a whole worker's first job.

    .venv/bin/python bench/cold_start.py [--table-sizes 10000,100000] [--snapshot-sizes 10000,100000,1000000]
                                         [--no-worker]

In one run, against a private Azurite:
- table: a fresh ``FaceStore`` reads every row of a ``persistedfaces`` table of N faces (written first);
- snapshot: a fresh ``FaceStore`` (in a new process, as a cold worker) loads the newest blob snapshot
  of N faces, then reads the table's newer rows (none here) — the path a cold worker takes;
- worker: ``imaginem host`` (one worker, the real function_app) is started with one seven-step job already
  queued (the astronaut, from ``inputimages``); time from process start to the job's last step, and the
  worker's peak RSS (VmHWM) with every model loaded, against the Flex Consumption instance sizes.
Writing 1M rows into Azurite takes about 20 minutes on this machine, so the table column stops at
100k by default; larger table sizes are extrapolated from the measured rate and marked so.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifiers.backends.local.face_index import IndexArrays, StoredFace  # noqa: E402
from classifiers.backends.local.face_snapshot import FaceSnapshots  # noqa: E402
from classifiers.backends.local.face_store import FaceStore  # noqa: E402
from pipeline.host.azurite import Azurite, free_port, start_azurite  # noqa: E402
from pipeline.job_record import PIPELINELOGS, StepState, finished_message, job_progress, step_state  # noqa: E402
from pipeline.storage import Storage  # noqa: E402

FLEX_INSTANCE_MB = (512, 2048, 4096)
PIPELINE = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput"]


def synthetic_faces(n: int, rng: np.random.Generator, *, offset: int = 0) -> list[StoredFace]:
    prints = rng.standard_normal((n, 128), dtype=np.float32)
    prints /= np.linalg.norm(prints, axis=1, keepdims=True)
    return [StoredFace(face_id=str(uuid.UUID(int=offset + i)), job_id=f"job-{(offset + i) // 4}", batch_id="bench",
                       image_url=f"https://images.example/{(offset + i) // 4}.jpg", face_rectangle=(1, 2, 3, 4),
                       print=prints[i]) for i in range(n)]


def cold_load(azurite: Azurite, table: str, container: str | None) -> tuple[float, int, str | None, float]:
    """A fresh process (as a cold worker is) loads the face store: (seconds, faces, snapshot used, peak MiB)."""
    script = (
        "import json, sys, time\n"
        "from classifiers.backends.local.face_snapshot import FaceSnapshots\n"
        "from classifiers.backends.local.face_store import FaceStore\n"
        "from pipeline.storage import Storage\n"
        "storage = Storage(sys.argv[1])\n"
        "snapshots = FaceSnapshots(container=storage.container(sys.argv[3])) if sys.argv[3] else None\n"
        "store = FaceStore(table=storage.table(sys.argv[2]), snapshots=snapshots)\n"
        "started = time.perf_counter()\n"
        "store.refresh()\n"
        "seconds = time.perf_counter() - started\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(json.dumps([seconds, len(store), store.loaded_from_snapshot, int(hwm) / 1024]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, azurite.connection_string, table, container or ""],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          check=True)
    seconds, faces, used, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return float(seconds), int(faces), used, float(peak)


def table_load(azurite: Azurite, storage: Storage, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """(seconds to write n rows, seconds for a cold store to read them all)."""
    name = f"coldfaces{uuid.uuid4().hex[:8]}"
    faces = synthetic_faces(n, rng)
    started = time.perf_counter()

    def put(start: int) -> None:
        FaceStore(table=storage.table(name)).store(faces[start:start + 100])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(0, n, 100)))
    written = time.perf_counter() - started
    faces.clear()
    read, loaded, _, _ = cold_load(azurite, name, None)
    assert loaded == n, (loaded, n)
    storage.table_service.delete_table(name)
    return written, read


def synthetic_arrays(n: int, rng: np.random.Generator) -> IndexArrays:
    prints = rng.standard_normal((n, 128), dtype=np.float32)
    prints /= np.linalg.norm(prints, axis=1, keepdims=True)
    return IndexArrays(face_ids=[str(uuid.UUID(int=i)) for i in range(n)], prints=prints,
                       job_numbers=(np.arange(n) // 4).astype(np.int32),
                       rectangles=np.tile(np.array([1, 2, 3, 4], dtype=np.int32), (n, 1)),
                       jobs=[(f"job-{i}", "bench", f"https://images.example/{i}.jpg") for i in range((n + 3) // 4)])


def snapshot_load(
    azurite: Azurite, storage: Storage, n: int, rng: np.random.Generator
) -> tuple[float, float, int, float]:
    """(seconds to write the snapshot, seconds for a cold worker to load it, snapshot bytes, its peak MiB)."""
    suffix = uuid.uuid4().hex[:8]
    snapshots = FaceSnapshots(container=storage.container(f"coldindex{suffix}"))
    arrays = synthetic_arrays(n, rng)
    started = time.perf_counter()
    name = snapshots.save(arrays, datetime.now(UTC))
    written = time.perf_counter() - started
    del arrays
    size = storage.container(f"coldindex{suffix}").get_blob_client(name).get_blob_properties().size
    read, loaded, used, peak = cold_load(azurite, f"coldfaces{suffix}", f"coldindex{suffix}")
    assert loaded == n and used == name, (loaded, used, name)
    storage.blob_service.delete_container(f"coldindex{suffix}")
    storage.table_service.delete_table(f"coldfaces{suffix}")
    return written, read, size, peak


def astronaut_png() -> bytes:
    import PIL.Image
    from skimage import data

    buffer = io.BytesIO()
    PIL.Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


def peak_rss_mb(pid: int) -> float:
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    peak = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def first_job(azurite: Azurite, storage: Storage) -> tuple[float, float, str]:
    """(seconds from host start to the queued job's end, worker peak RSS in MiB, the job's outcome)."""
    batch = f"cold{uuid.uuid4().hex[:8]}"
    url = storage.upload_blob("inputimages", f"{batch}/astronaut.png", astronaut_png(), content_type="image/png")
    message = {"job_definition": {"id": "astronaut", "batch_id": batch,
                                  "input": {"image_url": url, "image_parameters": {}},
                                  "processing_pipeline": PIPELINE, "processing_step": 0}, "job_output": {}}
    log = storage.table(PIPELINELOGS)
    log.upsert_entity({"PartitionKey": batch, "RowKey": "astronaut", "image_url": url,
                       PIPELINE[0]: step_state(0, StepState.PROCESSING)})
    storage.queue(PIPELINE[0]).send_message(json.dumps(message))
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string, "PYTHONPATH": str(ROOT),
           "IMAGINEM_DATA_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / f"imaginem-cold-{batch}")}
    started = time.perf_counter()
    host = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "host", "--workers", "1",
                             "--port", str(free_port())], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = started + 600
        peak = 0.0
        while time.perf_counter() < deadline:
            peak = max(peak, peak_rss_mb(host.pid))
            entity = log.get_entity(batch, "astronaut")
            if finished_message(entity) is not None:
                seconds = time.perf_counter() - started
                failed = job_progress(entity).failed_steps
                return seconds, max(peak, peak_rss_mb(host.pid)), "failed: " + ",".join(failed) if failed else "ok"
            if host.poll() is not None:
                raise RuntimeError(f"imaginem host exited with {host.returncode}")
            time.sleep(0.1)
        raise TimeoutError("the job did not finish in 600 s")
    finally:
        host.terminate()
        host.wait(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table-sizes", default="10000,100000")
    parser.add_argument("--snapshot-sizes", default="10000,100000,1000000")
    parser.add_argument("--no-worker", action="store_true", help="skip the whole-worker measurement")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    table_sizes = [int(s) for s in args.table_sizes.split(",") if s]
    snapshot_sizes = [int(s) for s in args.snapshot_sizes.split(",") if s]

    azurite = start_azurite()
    try:
        storage = Storage(azurite.connection_string)
        table_times = {n: table_load(azurite, storage, n, rng) for n in table_sizes}
        snapshot_times = {n: snapshot_load(azurite, storage, n, rng) for n in snapshot_sizes}
        worker = None if args.no_worker else first_job(azurite, storage)
    finally:
        azurite.stop()

    rate = (max(table_times) / table_times[max(table_times)][1]) if table_times else 0.0
    table = Table(title=f"facematch cold start ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    for column in ("prints", "from the table", "from the snapshot", "speed-up", "snapshot size", "snapshot write",
                   "loader peak RSS"):
        table.add_column(column, justify="right")
    for n in sorted(set(table_sizes) | set(snapshot_sizes)):
        if n in table_times:
            from_table, measured = table_times[n][1], True
        else:
            from_table, measured = (n / rate if rate else float("nan")), False
        snap = snapshot_times.get(n)
        table.add_row(
            f"{n:,}",
            f"{from_table:.1f} s" + ("" if measured else " (extrapolated)"),
            f"{snap[1]:.2f} s" if snap else "—",
            f"{from_table / snap[1]:.0f}×" if snap else "—",
            f"{snap[2] / 2**20:.0f} MiB" if snap else "—",
            f"{snap[0]:.2f} s" if snap else "—",
            f"{snap[3]:.0f} MiB" if snap else "—",
        )
    console = Console(width=200)
    console.print(table)
    if worker is not None:
        seconds, peak, outcome = worker
        fits = next((f"{mb} MB" for mb in FLEX_INSTANCE_MB if peak < mb * 0.8), "none")
        console.print(f"worker: first seven-step job finished {seconds:.1f} s after `imaginem host` started "
                      f"({outcome}); peak RSS {peak:.0f} MiB; smallest Flex Consumption instance with 20% "
                      f"headroom: {fits} (sizes {', '.join(map(str, FLEX_INSTANCE_MB))} MB)")


if __name__ == "__main__":
    main()
