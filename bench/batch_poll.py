"""What one Batch page viewer costs while a big batch runs: the whole batch every second, or only what changed.

A batch of N jobs is written to ``pipelinelogs`` on a private in-memory Azurite as a running pipeline leaves
it (each job some steps in, every finished step with an output of about 1.5 KB). The dashboard's routes are
served by the local host in a child process. Then:

- full: ``GET /api/batches/{b}``, what the page did every second before (and still does once on opening);
- changed: ``GET /api/batches/{b}?since=<cursor>`` one second after 10 jobs moved on a step (the jobs changed
  in the last 5 s come back: the cursor's overlap), as the page polls while the batch runs;
- idle: the same when nothing changed for more than the overlap (the page backs off to one poll per 8 s).
The page before polled "full" every second; now it polls "full" once, then "changed" or "idle".

CPU is read from /proc for the host process and for Azurite (node), per poll; "viewer cost" is that CPU
times the page's polls per second, in cores.

    .venv/bin/python bench/batch_poll.py [--jobs 2000 10000] [--polls 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from azure.data.tables import UpdateMode
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's dashboard, in the served child too, whatever is installed
QUEUES = ("generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput")
_TICK = os.sysconf("SC_CLK_TCK")
_OUTPUT = json.dumps({"tags": [{"name": f"tag number {t}", "confidence": 0.123456} for t in range(30)]})  # ~1.5 KB


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _entity(batch: str, index: int, done: int) -> dict[str, Any]:
    job = f"{index:05d}-photo.jpg"
    entity: dict[str, Any] = {"PartitionKey": batch, "RowKey": job, "fingerprint": uuid.uuid4().hex,
                              "image_url": f"http://127.0.0.1:10000/devstoreaccount1/inputimages/{batch}/{job}"}
    for step, queue in enumerate(QUEUES):
        if step < done:
            entity[queue] = f"step {step}: success"
            entity[f"{queue}_output"] = _OUTPUT
        elif step == done:
            entity[queue] = f"step {step}: processing"
    return entity


def _fill(table: Any, batch: str, jobs: int) -> dict[int, int]:
    progress = {i: random.randrange(len(QUEUES)) for i in range(jobs)}
    entities = [_entity(batch, i, d) for i, d in progress.items()]
    for start in range(0, len(entities), 100):
        table.submit_transaction([("upsert", e) for e in entities[start:start + 100]])
    return progress


def _advance(table: Any, batch: str, progress: dict[int, int], count: int) -> None:
    running = [i for i, d in progress.items() if d < len(QUEUES) - 1]
    for index in random.sample(running, min(count, len(running))):
        progress[index] += 1
        table.upsert_entity(_entity(batch, index, progress[index]), mode=UpdateMode.MERGE)


def _measure(url: str, pids: tuple[int, int], params: dict[str, str] | None = None) -> tuple[float, float, float,
                                                                                             dict[str, Any]]:
    """(seconds, host CPU s, Azurite CPU s, body) of one poll."""
    before = [_cpu(p) for p in pids]
    began = time.perf_counter()
    answer = requests.get(url, params=params, timeout=120)
    took = time.perf_counter() - began
    answer.raise_for_status()
    after = [_cpu(p) for p in pids]
    return took, after[0] - before[0], after[1] - before[1], answer.json()


def _serve(port: int) -> None:
    import azure.functions as func

    from dashboard import dashboard_blueprint
    from pipeline.host.localhost import LocalHost
    from pipeline.hostconfig import QueueConfig
    from pipeline.settings import Settings

    settings = Settings.from_env()
    app = func.FunctionApp()
    app.register_functions(dashboard_blueprint(settings))
    LocalHost(app=app, settings=settings, config=QueueConfig.load(ROOT / "host.json"), http_port=port).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return

    from pipeline.host.azurite import free_port, start_azurite
    from pipeline.job_record import PIPELINELOGS
    from pipeline.storage import Storage

    azurite = start_azurite()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string, "IMAGINEM_DATA_DIR": data}
        host = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            table = Storage(azurite.connection_string).table(PIPELINELOGS)
            base = f"http://127.0.0.1:{port}/api"
            for _ in range(600):
                try:
                    requests.get(f"{base}/dashboard/", timeout=2)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            rows = [_run(table, base, (host.pid, azurite.process.pid), jobs, args.polls) for jobs in args.jobs]
        finally:
            host.terminate()
            host.wait(30)
            azurite.stop()
    out = Table(title="One Batch page viewer while the batch runs (per poll: median wall time; mean CPU)")
    for column in ("jobs", "poll", "jobs sent", "KB sent", "wall ms", "host CPU ms", "Azurite CPU ms",
                   "polls/s", "viewer cost (cores)"):
        out.add_column(column, justify="right" if column not in ("poll",) else "left")
    for row in rows:
        for kind, rate in (("full", 1.0), ("changed", 1.0), ("idle", 1 / 8)):
            r = row[kind]
            cost = (r["host"] + r["azurite"]) * rate
            out.add_row(f"{row['jobs']:,}", kind, f"{r['sent']:.0f}", f"{r['kb']:.0f}", f"{r['wall'] * 1000:.0f}",
                        f"{r['host'] * 1000:.0f}", f"{r['azurite'] * 1000:.0f}", f"{rate:g}", f"{cost:.3f}")
    Console(width=150).print(out)


def _run(table: Any, base: str, pids: tuple[int, int], jobs: int, polls: int) -> dict[str, Any]:
    batch = f"bench-{uuid.uuid4().hex[:8]}"
    progress = _fill(table, batch, jobs)
    url = f"{base}/batches/{batch}"
    _measure(url, pids)  # warm: first request builds the dashboard's context
    found: dict[str, Any] = {"jobs": jobs}

    def record(kind: str, samples: list[tuple[float, float, float, dict[str, Any]]]) -> None:
        found[kind] = {"wall": statistics.median(s[0] for s in samples),
                       "host": statistics.mean(s[1] for s in samples),
                       "azurite": statistics.mean(s[2] for s in samples),
                       "sent": statistics.mean(len(s[3]["jobs"]) for s in samples),
                       "kb": statistics.mean(len(json.dumps(s[3])) for s in samples) / 1024}

    full = [_measure(url, pids) for _ in range(polls)]
    record("full", full)
    cursor = full[-1][3]["cursor"]
    changed = []
    for _ in range(polls + 5):  # the first five fill the overlap window
        _advance(table, batch, progress, 10)
        time.sleep(1)
        sample = _measure(url, pids, {"since": cursor})
        cursor = sample[3]["cursor"]
        changed.append(sample)
    record("changed", changed[5:])
    time.sleep(6)
    cursor = _measure(url, pids, {"since": cursor})[3]["cursor"]  # the last changes come one more time
    idle = []
    for _ in range(polls):
        sample = _measure(url, pids, {"since": cursor})
        cursor = sample[3]["cursor"]
        idle.append(sample)
    record("idle", idle)
    return found


if __name__ == "__main__":
    main()
