"""Pipeline overhead on Azurite: the local host moving jobs through no-op steps, beside the raw floor.

The floor is the storage SDK doing, per message, what one hop must do at least: receive,
merge the job's pipelinelogs entity, send to the next queue, delete. Both are measured in
the same run against the same emulator, so the ratio means something on a noisy machine.

    .venv/bin/python bench/pipeline_overhead.py [--jobs 100]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import uuid
from typing import Any

import azure.functions as func
from azure.data.tables import UpdateMode
from rich.console import Console
from rich.table import Table

from pipeline.classifier import StepContext
from pipeline.dependencies import Dependencies
from pipeline.functions import Lazy, classifier_blueprint
from pipeline.host.azurite import start_azurite
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job import Job
from pipeline.job_record import PIPELINELOGS, StepState, step_state
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.step import StepRunner
from pipeline.storage import Storage

STEPS = 7


class Noop:
    needs_image = False

    def __init__(self, name: str, done: threading.Semaphore | None = None) -> None:
        self.name = name
        self._done = done

    def __call__(self, job: Job, image: object, context: StepContext) -> dict[str, Any]:
        if self._done is not None:  # the last step: lets the benchmark wait without polling storage
            self._done.release()
        return {}


def message(job_id: str, batch: str, pipeline: list[str]) -> str:
    return json.dumps({"job_definition": {"id": job_id, "batch_id": batch,
                                          "input": {"image_url": "https://example.invalid/x.jpg"},
                                          "processing_pipeline": pipeline, "processing_step": 0},
                       "job_output": {}})


def floor(storage: Storage, hops: int) -> float:
    """Seconds per hop for receive + merge + send + delete, one message at a time."""
    a, b = storage.queue(f"floora{uuid.uuid4().hex[:8]}"), storage.queue(f"floorb{uuid.uuid4().hex[:8]}")
    table = storage.table(PIPELINELOGS)
    body = message("floor", "floor", ["x", "y"])
    a.send_message(body)
    start = time.perf_counter()
    for i in range(hops):
        source, target = (a, b) if i % 2 == 0 else (b, a)
        [msg] = list(source.receive_messages(max_messages=1, visibility_timeout=60))
        table.upsert_entity({"PartitionKey": "floor", "RowKey": "floor", f"q{i % 7}": step_state(i, StepState.SUCCESS)},
                            mode=UpdateMode.MERGE)
        target.send_message(msg.content)
        source.delete_message(msg)
    return (time.perf_counter() - start) / hops


def run_host(services: Services, settings: Settings, jobs: int, single_runs: int,
             threads: int | None = None) -> tuple[float, list[float]]:
    tag = uuid.uuid4().hex[:8]
    pipeline = [f"bench{tag}{i}" for i in range(STEPS)]
    runner = Lazy(lambda: StepRunner(services=services, max_dequeue_count=5))
    app = func.FunctionApp()
    last = threading.Semaphore(0)
    for name in pipeline:
        app.register_functions(classifier_blueprint(
            name, lambda s, n=name: Noop(n, last if n == pipeline[-1] else None), runner))
    config = QueueConfig.load()
    host = LocalHost(app=app, settings=settings, config=config, http_port=None, threads=threads)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    table = services.storage.table(PIPELINELOGS)
    first = services.storage.queue(pipeline[0])
    time.sleep(1)

    def finished(batch: str, expected: int) -> int:
        return sum(1 for e in table.query_entities(f"PartitionKey eq '{batch}'", select=["RowKey", "job_output"])
                   if e.get("job_output"))

    # Latency of one job alone, polling pipelinelogs for its end.
    latencies = []
    for run in range(single_runs):
        batch = f"single{tag}{run}"
        # Start from an idle host, as a user would, at no fixed point of its polling rhythm: the first step
        # waits for its queue's next poll (up to maxPollingInterval, half of it on average).
        time.sleep(config.max_polling_interval + 0.2 + random.uniform(0, config.max_polling_interval))
        start = time.perf_counter()
        first.send_message(message("job", batch, pipeline))
        last.acquire()
        while not finished(batch, 1):
            time.sleep(0.005)
        latencies.append(time.perf_counter() - start)

    # Throughput of many jobs.
    batch = f"many{tag}"
    start = time.perf_counter()
    for i in range(jobs):
        first.send_message(message(f"job-{i}", batch, pipeline))
    for _ in range(jobs):
        last.acquire()
    while finished(batch, jobs) < jobs:  # the last merges
        time.sleep(0.01)
    per_hop = (time.perf_counter() - start) / (jobs * STEPS)
    host.stop.set()
    thread.join()
    return per_hop, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--single", type=int, default=5, help="single-job latency runs")
    args = parser.parse_args()
    emulator = start_azurite()
    try:
        settings = Settings(storage_connection_string=emulator.connection_string)
        services = Services(settings=settings, storage=Storage(emulator.connection_string),
                            dependencies=Dependencies.load())
        floor(services.storage, 50)  # warm up connections and the emulator
        floor_hop = statistics.median(floor(services.storage, 200) for _ in range(3))
        per_hop, latencies = run_host(services, settings, args.jobs, args.single)
        sequential_hop, _ = run_host(services, settings, args.jobs, 0, threads=1)
    finally:
        emulator.stop()
    latency = statistics.median(latencies)
    limit = STEPS * floor_hop + 0.5
    table = Table(title=f"Pipeline overhead on Azurite ({args.jobs} jobs x {STEPS} no-op steps, 1 worker)",
                  min_width=100)
    for column in ("measure", "ms", "vs floor", "target", "met"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row("floor: receive+merge+send+delete per hop", f"{floor_hop * 1000:.1f}", "1.00x", "", "")
    for label, hop in ((f"local host, batchSize {QueueConfig.load().batch_size} in parallel: per hop", per_hop),
                       ("local host, 1 thread: per hop", sequential_hop)):
        table.add_row(label, f"{hop * 1000:.1f}", f"{hop / floor_hop:.2f}x", "<= 1.50x",
                      "yes" if hop <= 1.5 * floor_hop else "NO")
    table.add_row(f"one {STEPS}-step job, end to end (median of {len(latencies)})", f"{latency * 1000:.0f}",
                  f"{latency / floor_hop:.1f}x", f"<= {limit * 1000:.0f} ms", "yes" if latency <= limit else "NO")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
