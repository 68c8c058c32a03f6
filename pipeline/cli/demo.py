"""``imaginem demo``: the main job. Sample images through all seven classifiers, locally, with no keys.

It starts a private Azurite (in memory) with a throwaway data folder, runs the Functions app on the
local host, submits the samples, shows progress, then prints a summary and writes an HTML report with the
faces drawn. Nothing of it stays behind but the report: the results of ``imaginem host`` and the demo's
never mix (a demo's rows would point at an Azurite that is gone).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from pipeline.cli.consoles import output
from pipeline.cli.dashboard_url import page_url
from pipeline.cli.probe import probe_storage
from pipeline.cli.progress import wait_for_batch
from pipeline.cli.report import JobResult, html_report, summary_table, with_matches_both_ways
from pipeline.cli.samples import write_samples
from pipeline.errors import ConfigurationError
from pipeline.host.azurite import start_azurite
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS, JobState, PipelineLog, exceptions, finished_message
from pipeline.linked import LinkedContent
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.submit import Submitter, new_batch_id

__all__ = ["register", "run"]

_errors = Console(stderr=True)


def register(commands: Any) -> None:
    p = commands.add_parser("demo", help="the main job: sample images through every classifier, locally")
    p.add_argument("--report", default="report", help="folder for the HTML report (default: report)")
    p.add_argument("--timeout", type=float, default=900, help="seconds before giving up (exit 3)")
    p.add_argument("--dashboard", action="store_true",
                   help="serve the dashboard while it runs and after, until Ctrl-C (prints its URL; the demo's "
                        "data goes when it stops)")
    p.add_argument("--port", type=int, default=7071, help="HTTP port for --dashboard (default: 7071)")
    p.add_argument("--use-settings", action="store_true",
                   help="use AzureWebJobsStorage from the settings instead of a private Azurite")
    p.set_defaults(handler=run)


def _results(services: Services, batch_id: str, images: dict[str, bytes]) -> list[JobResult]:
    log = PipelineLog(services.storage.table(PIPELINELOGS))
    linked = LinkedContent(services.storage)
    results = []
    for entity in sorted(log.batch(batch_id), key=lambda e: str(e["RowKey"])):
        final: dict[str, Any] = json.loads(finished_message(entity) or "{}")
        batch, job = str(entity["PartitionKey"]), str(entity["RowKey"])
        final = linked.expand(final, batch_id=batch, job_id=job)
        outputs = linked.expand_outputs(final.get("job_output", {}), batch_id=batch, job_id=job)
        name = final.get("job_definition", {}).get("input", {}).get("image_parameters", {}).get("original_name", "")
        image_url = str(final.get("job_definition", {}).get("input", {}).get("image_url", ""))
        results.append(JobResult(job_id=str(entity["RowKey"]), name=name, image=images.get(name, b""),
                                 outputs=outputs, exceptions=exceptions(entity), image_url=image_url))
    return with_matches_both_ways(results)


@contextmanager
def _stopped_like_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal, `kill`, a test's terminate) end the demo as Ctrl-C does, so
    Azurite is stopped; SIGINT itself is left alone (ignored when started with `&` from a script)."""
    previous = {s: signal.signal(s, signal.default_int_handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(args: argparse.Namespace, settings: Settings) -> int:
    with _stopped_like_ctrl_c():
        if args.use_settings:
            return _run(args, settings)
        with tempfile.TemporaryDirectory(prefix="imaginem-demo-", ignore_cleanup_errors=True) as data_dir:
            emulator = start_azurite()
            try:
                # The hosted app reads its settings from the environment, as it would under `func start`.
                os.environ.update({"AzureWebJobsStorage": emulator.connection_string, "IMAGINEM_DATA_DIR": data_dir})
                return _run(args, Settings.from_env(os.environ))
            finally:
                emulator.stop()


def _free_or_exit(port: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ConfigurationError(f"port {port} is in use (another `imaginem host`?): choose one with --port") \
                from None
    return port


def _serve_until_interrupted(host: LocalHost, thread: threading.Thread, port: int, console: Console) -> None:
    console.print(f"Dashboard: {page_url(port)}  (Ctrl-C stops it)", highlight=False)
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        host.stop.set()
        thread.join(60)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    services = Services.from_settings(settings)
    probe_storage(services.storage)
    samples = write_samples(settings.data_dir / "samples")
    images = {p.name: p.read_bytes() for p in samples}
    port = _free_or_exit(args.port) if args.dashboard else None
    host = LocalHost(app="function_app:app", settings=settings, config=QueueConfig.load(), http_port=port)
    thread = threading.Thread(target=host.serve, name="imaginem-host", daemon=True)
    thread.start()
    keep = False
    try:
        submitter = Submitter(services)
        log = PipelineLog(services.storage.table(PIPELINELOGS))
        batch_id = new_batch_id()
        pipeline = list(settings.pipeline_definition)
        first, later = samples[:-1], samples[-1:]  # the second astronaut comes after the first is stored
        _errors.print(f"pipeline: {' → '.join(pipeline)}\nbatch: {batch_id} ({len(samples)} images; the "
                      "models load on the first message)")
        done = 0
        for wave in (first, later):
            for job in submitter.images([str(p) for p in wave], batch_id=batch_id, pipeline=pipeline, first=done):
                submitter.send(job)
                done += 1
            jobs = wait_for_batch(log, batch_id, timeout=args.timeout, console=_errors, expected=done)
            if not jobs:
                _errors.print(f"timed out after {args.timeout:g} s; see `imaginem status {batch_id}`")
                return 3
        keep = port is not None
    finally:
        if not keep:
            host.stop.set()
            thread.join(60)
    assert jobs
    results = _results(services, batch_id, images)
    console = output()  # piped to a file or a CI log: one line per image, not cut at 80 columns
    console.print(summary_table(results))
    index = html_report(results, Path(args.report), f"Imaginem — batch {batch_id}")
    console.print(f"HTML report: {index.resolve()}")
    outcomes = [str(j.outcome) for j in jobs]
    _errors.print(", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes)), highlight=False)
    if keep and port is not None:
        _serve_until_interrupted(host, thread, port, console)
    elif not args.use_settings:
        _errors.print("The demo's storage and results went with it (the report stays). To browse them, run it "
                      "with --dashboard; to keep results, `imaginem samples photos/` then `imaginem submit photos/` "
                      "with `imaginem host` running.", highlight=False)
    stopped = [j.job_id for j in jobs if j.state == JobState.STOPPED]
    if stopped:
        _errors.print(f"stopped before their last step: {', '.join(stopped)}")
        return 1
    return 0
