"""Throughput on real photos: the seven-step pipeline on the local host beside the models alone.

Photos from ``skimage.data`` (astronaut, coffee, chelsea, rocket, camera, page: what ships in the
wheel), cropped to 4:3 and scaled to 512×384, 3 MP (2048×1536) and 12 MP (4000×3000), JPEG q90,
uploaded to ``inputimages`` of a private Azurite. For each size:

- **pipeline**: one warm-up job, then ``--jobs`` jobs sent at once through ``PIPELINE_DEFINITION`` on
  ``LocalHost`` with the real ``function_app:app`` and ``--workers`` worker processes; photos/s is
  jobs ÷ the time from the first send until every entity has its ``job_output``. The per-step
  breakdown is the median of each step's ``<classifier>_timings`` (pipeline/timings.py).
- **models only**: the same classifiers, built by each module's ``build(services)``, called in
  ``--workers`` processes on the same photos decoded once beforehand, in pipeline order with a parsed
  Job carrying the previous outputs; no queues, no pipelinelogs (facecrop still writes its face
  blobs, facematch its index and pipelineoutput its SQL row: that is their work).

Both run in the same process tree on the same emulator, one after the other, per size.

    .venv/bin/python bench/throughput.py [--jobs 8] [--sizes 512,3mp,12mp] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import PIL.Image
from rich.console import Console
from rich.table import Table

from pipeline.classifier import NO_CONTEXT
from pipeline.host.azurite import start_azurite
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS, JobState, PipelineLog, job_progress, step_timings
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.submit import INPUT_CONTAINER, Submitter

SIZES = {"512": (512, 384), "3mp": (2048, 1536), "12mp": (4000, 3000)}
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "page")
BREAKDOWN = ("fetch_ms", "decode_ms", "model_ms", "total_ms")


def photos(size: tuple[int, int]) -> list[bytes]:
    """Every photo of PHOTOS as a JPEG of ``size``, cropped to its aspect ratio first."""
    import skimage.data

    width, height = size
    out = []
    for name in PHOTOS:
        pixels: np.ndarray = getattr(skimage.data, name)()
        image = PIL.Image.fromarray(pixels).convert("RGB")
        w, h = image.size
        if w * height > h * width:  # too wide: crop the sides
            crop = h * width // height
            image = image.crop(((w - crop) // 2, 0, (w - crop) // 2 + crop, h))
        else:
            crop = w * height // width
            image = image.crop((0, (h - crop) // 2, w, (h - crop) // 2 + crop))
        buffer = io.BytesIO()
        image.resize(size, PIL.Image.Resampling.LANCZOS).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


# --- models only, in worker processes -------------------------------------------------------------

def _models_worker(commands: Any, results: Any, barrier: Any) -> None:
    """Build every classifier once, then for each command: decode, warm up, wait, run, report."""
    from classifiers.catalogue import CATALOGUE
    from pipeline.images import Image, decode_image
    from pipeline.job import parse_job

    settings = Settings.from_env()
    services = Services.from_settings(settings)
    classifiers = {spec.name: spec.build(services) for spec in CATALOGUE}
    pipeline = list(settings.pipeline_definition)

    def job(image: Image, job_id: str, batch: str, spent: dict[str, list[float]]) -> None:
        """One photo through every classifier in pipeline order, each call's ms added to ``spent``."""
        url = image.url
        message = {"job_definition": {"id": job_id, "batch_id": batch,
                                      "input": {"image_url": url, "image_classifiers": [], "image_parameters": {}},
                                      "processing_pipeline": pipeline, "processing_step": 0}, "job_output": {}}
        current = parse_job(json.dumps(message), default_pipeline=settings.pipeline_definition)
        for name in pipeline:
            classifier = classifiers[name]
            start = time.perf_counter()
            try:
                output = classifier(current, image if classifier.needs_image else None, NO_CONTEXT)
            except Exception:  # as in the pipeline: the failure is the step's result and the job goes on
                output = None
            spent.setdefault(name, []).append((time.perf_counter() - start) * 1000)
            if output is not None:
                current = current.with_output(name, output)
            if current.next_queue is not None:
                current = current.advanced()

    while (command := commands.get()) is not None:
        batch, urls, data, warm = command
        images = {url: decode_image(blob, url=url, max_pixels=settings.image_max_pixels)
                  for url, blob in zip([*urls, *(u for u, _ in warm)], [*data, *(d for _, d in warm)], strict=True)}
        for image in images.values():
            _ = image.rgb  # decoded before the clock starts, as "the same decoded images"
        for warm_url, _ in warm:  # a face and a text page: every model loads before the clock starts
            job(images[warm_url], f"warm-{uuid.uuid4().hex[:8]}", batch, {})
        spent: dict[str, list[float]] = {}
        barrier.wait()
        cpu = time.process_time()
        for index, url in enumerate(urls):
            job(images[url], f"m-{uuid.uuid4().hex[:8]}-{index}", batch, spent)
        results.put((spent, time.process_time() - cpu))
        del images


class ModelsOnly:
    """``workers`` processes that each hold every classifier, as host workers do."""

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._barrier = context.Barrier(workers + 1)
        self._results = context.Queue()
        self._commands = [context.Queue() for _ in range(workers)]
        self._processes = [context.Process(target=_models_worker, args=(c, self._results, self._barrier),
                                           name=f"models-only-{i}", daemon=True)
                           for i, c in enumerate(self._commands)]
        for process in self._processes:
            process.start()

    def run(self, batch: str, urls: Sequence[str], data: Sequence[bytes], warm: list[tuple[str, bytes]]
            ) -> tuple[float, dict[str, list[float]], float]:
        """Photos/s over every worker together, each classifier's call times (ms) and the CPU seconds of the
        timed loops."""
        shares = [list(range(i, len(urls), len(self._commands))) for i in range(len(self._commands))]
        for queue, share in zip(self._commands, shares, strict=True):
            queue.put((batch, [urls[i] for i in share], [data[i] for i in share], warm))
        self._barrier.wait(timeout=1800)
        start = time.perf_counter()
        spent: dict[str, list[float]] = {}
        cpu = 0.0
        for _ in self._commands:
            times_of, seconds = self._results.get(timeout=1800)
            cpu += seconds
            for name, times in times_of.items():
                spent.setdefault(name, []).extend(times)
        return len(urls) / (time.perf_counter() - start), spent, cpu

    def stop(self) -> None:
        for queue in self._commands:
            queue.put(None)
        for process in self._processes:
            process.join(30)
            if process.is_alive():
                process.terminate()


# --- the pipeline on the local host ---------------------------------------------------------------

def run_jobs(submitter: Submitter, log: PipelineLog, table: Any, batch: str, urls: Sequence[str], pipeline: list[str],
             timeout: float = 1800) -> tuple[float, list[dict[str, Any]]]:
    """Send one job per URL at once; seconds until every job is finished or stopped, and the entities.

    The clock watches only the last step's state (a small query, so that watching costs the emulator
    little beside the pipeline); every few seconds a whole read catches jobs stopped on the way."""
    jobs = [submitter.image_job(image_url=url, batch_id=batch, job_id=f"job-{i:03d}", pipeline=pipeline,
                                parameters={"original_name": url.rsplit("/", 1)[-1], "mime_type": "image/jpeg"})
            for i, url in enumerate(urls)]
    last = pipeline[-1]
    escaped = batch.replace("'", "''")
    start = time.perf_counter()
    for job in jobs:
        submitter.send(job)
    deadline, whole_read = start + timeout, start + 5.0
    while True:
        states = [str(e.get(last, "")) for e in table.query_entities(f"PartitionKey eq '{escaped}'", select=[last])]
        if len(states) == len(jobs) and all(s.endswith((": success", ": failed")) for s in states):
            return time.perf_counter() - start, log.batch(batch)
        now = time.perf_counter()
        if now > whole_read:
            whole_read = now + 5.0
            entities = log.batch(batch)
            if len(entities) == len(jobs) and all(job_progress(e).state != JobState.RUNNING for e in entities):
                return time.perf_counter() - start, entities
        if now > deadline:
            raise TimeoutError(f"batch {batch} did not finish within {timeout:g} s")
        time.sleep(0.2)


def cpu_seconds(pids: Sequence[int | None]) -> float:
    """User + system CPU seconds used so far by these processes (their own threads, not children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        if pid is None:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / ticks


def peak_rss_mib(pids: Sequence[int | None]) -> float:
    """The largest peak resident memory (VmHWM) of these processes so far, MiB."""
    peak = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                peak = max([peak, *(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))])
        except (OSError, ValueError):
            continue
    return peak / 1024


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8, help="timed jobs per size (after one warm-up job)")
    parser.add_argument("--sizes", default="512,3mp,12mp", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--workers", type=int, default=2, help="host worker processes (and models-only ones)")
    parser.add_argument("--in-flight", type=int, default=None,
                        help="messages each host worker runs at once (default: host.json batchSize)")
    parser.add_argument("--model-threads", type=int, default=None,
                        help="MODEL_THREADS for the hosted app and the models-only workers (default: the setting's)")
    args = parser.parse_args()
    sizes = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")

    emulator = start_azurite()
    data_dir = tempfile.TemporaryDirectory(prefix="imaginem-throughput-")
    # The hosted app and the models-only workers read their settings from the environment, as in Azure.
    os.environ.update({"AzureWebJobsStorage": emulator.connection_string, "IMAGINEM_DATA_DIR": data_dir.name})
    if args.model_threads is not None:
        os.environ["MODEL_THREADS"] = str(args.model_threads)
    settings = Settings.from_env()
    services = Services.from_settings(settings)
    pipeline = list(settings.pipeline_definition)
    config = QueueConfig.load()
    host = LocalHost(app="function_app:app", settings=settings, config=config, workers=args.workers,
                     http_port=None, threads=args.in_flight)
    thread = threading.Thread(target=host.serve, name="throughput-host", daemon=True)
    models: ModelsOnly | None = None
    rows: list[tuple[str, float, float, dict[str, dict[str, list[float]]], dict[str, list[float]], int,
                     dict[str, float]]] = []
    load = os.getloadavg()
    started = time.perf_counter()
    try:
        thread.start()
        models = ModelsOnly(args.workers)
        submitter = Submitter(services)
        table = services.storage.table(PIPELINELOGS)
        log = PipelineLog(table)
        tag = uuid.uuid4().hex[:6]
        upload: Callable[[str, bytes], str] = lambda name, blob: services.storage.upload_blob(  # noqa: E731
            INPUT_CONTAINER, name, blob, content_type="image/jpeg")
        for number, size in enumerate(sizes):
            pictures = photos(SIZES[size])
            data = [pictures[i % len(pictures)] for i in range(args.jobs)]
            # A job reads only inputimages/<its batch>/: each batch gets its own copies.
            warm_batch, batch = f"warm-{tag}-{size}", f"pipe-{tag}-{size}"
            urls = [upload(f"{batch}/{i:03d}.jpg", blob) for i, blob in enumerate(data)]
            warm = [(upload(f"{warm_batch}/warm-{i}.jpg", pictures[i]), pictures[i]) for i in (0, -1)]
            # Warm-up: every worker loads its models on its first messages (the astronaut has a face, the
            # page has text); one job per size after that.
            warmups = [warm[i % 2][0] for i in range(2 * args.workers)] if number == 0 else [warm[0][0]]
            run_jobs(submitter, log, table, warm_batch, warmups, pipeline)
            workers = host.supervisor.pids() if host.supervisor is not None else []
            groups = {"workers": workers, "emulator": [emulator.process.pid], "bench": [os.getpid()]}
            before = {name: cpu_seconds(pids) for name, pids in groups.items()}
            seconds, entities = run_jobs(submitter, log, table, batch, urls, pipeline)
            cpu = {name: (cpu_seconds(pids) - before[name]) / args.jobs for name, pids in groups.items()}
            cpu["peak MiB"] = peak_rss_mib(workers)
            failed = sum(1 for e in entities if job_progress(e).exceptions)
            per_step: dict[str, dict[str, list[float]]] = {"all steps (per photo)": {}}
            for entity in entities:
                steps = step_timings(entity)
                for name, timings in steps.items():
                    for phase, value in timings.items():
                        per_step.setdefault(name, {}).setdefault(phase, []).append(value)
                for phase in BREAKDOWN:
                    per_step["all steps (per photo)"].setdefault(phase, []).append(
                        sum(t.get(phase, 0.0) for t in steps.values()))
            alone_rate, alone, alone_cpu = models.run(f"models-{tag}-{size}", urls, data, warm)
            cpu["models-only"] = alone_cpu / args.jobs
            rows.append((size, args.jobs / seconds, alone_rate, per_step, alone, failed, cpu))
    finally:
        if models is not None:
            models.stop()
        host.stop.set()
        thread.join(180)
        emulator.stop()
        data_dir.cleanup()

    in_flight = args.in_flight or config.batch_size
    table = Table(title=f"Throughput: {args.jobs} photos per size after a warm-up job, {args.workers} worker(s) with "
                        f"{in_flight} message(s) in flight each, MODEL_THREADS={settings.model_threads}, "
                        f"{os.cpu_count()} cores, load average before {load[0]:.2f} (took "
                        f"{time.perf_counter() - started:.0f} s)", min_width=120)
    for column in ("size", "step", "photos/s pipeline", "photos/s models-only", "ratio",
                   "fetch ms", "decode ms", "model ms", "total ms", "model ms alone"):
        table.add_column(column, justify="left" if column in ("size", "step") else "right")
    for size, rate, alone_rate, per_step, alone, failed, _ in rows:
        w, h = SIZES[size]
        label = f"{size} ({w}×{h})" + (f", {failed} job(s) with exceptions" if failed else "")
        everything = per_step["all steps (per photo)"]
        alone_sum = [sum(v) for v in zip(*(alone.get(s, [0.0] * args.jobs) for s in pipeline), strict=True)]
        table.add_row(label, "all steps (per photo)", f"{rate:.2f}", f"{alone_rate:.2f}", f"{rate / alone_rate:.2f}",
                      *(_median(everything.get(p, [])) for p in BREAKDOWN), _median(alone_sum))
        for name in pipeline:
            measured = per_step.get(name, {})
            table.add_row("", name, "", "", "", *(_median(measured.get(p, [])) for p in BREAKDOWN),
                          _median(alone.get(name, [])), end_section=name == pipeline[-1])
    Console(width=160).print(table)
    cpu_table = Table(title="CPU seconds per photo (user + system, /proc): where the pipeline's cores went beside "
                            "the models alone", min_width=120)
    for column in ("size", "host workers", "emulator", "bench (sends, watches)", "pipeline total",
                   "models-only workers", "cores busy: pipeline", "cores busy: models-only",
                   "worker peak RSS MiB"):
        cpu_table.add_column(column, justify="left" if column == "size" else "right")
    for size, rate, alone_rate, _, _, _, cpu in rows:
        total = cpu["workers"] + cpu["emulator"] + cpu["bench"]
        cpu_table.add_row(size, f"{cpu['workers']:.3f}", f"{cpu['emulator']:.3f}", f"{cpu['bench']:.3f}",
                          f"{total:.3f}", f"{cpu['models-only']:.3f}", f"{total * rate:.2f}",
                          f"{cpu['models-only'] * alone_rate:.2f}", f"{cpu['peak MiB']:.0f}")
    Console(width=160).print(cpu_table)
    print("Per-step columns: medians of each step's <classifier>_timings in pipelinelogs; fetch includes the "
          "validating decode, decode is the pixels decoded on first use inside model ms (the models-only loop "
          "decodes in full before its clock); 'model ms alone' is the same classifier called in the models-only "
          "loop. CPU: /proc of the host's worker processes and the emulator while the batch ran, and the "
          "models-only processes' own CPU time over their timed loops; cores busy = CPU s per photo x photos/s; "
          "peak RSS: the largest VmHWM of the host's workers so far.")


if __name__ == "__main__":
    main()
