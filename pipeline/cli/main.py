"""The ``imaginem`` command: run the emulator and the host, submit jobs, follow and read them.

exit codes (every command):
  0  success (wait: every job succeeded)
  1  a command failed; wait: some job finished with failed steps or stopped in a poison queue;
     requeue: some poisoned messages are not jobs and were left in place
  2  bad usage or input: a file that is not an image, a job file that is not a job, no such batch or job
  3  timed out (wait)
  4  a configuration problem: a bad setting, the HTTP port taken, the results database missing or unreachable
  5  storage unreachable (the host waits --storage-wait seconds for it first)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from azure.core.exceptions import AzureError
from rich.console import Console

from pipeline.cli import demo
from pipeline.cli import forget as cli_forget
from pipeline.cli import people as cli_people
from pipeline.cli import results as cli_results
from pipeline.cli.consoles import TABLE_WIDTH, errors, output
from pipeline.cli.probe import probe_storage
from pipeline.cli.progress import wait_for_batch
from pipeline.dependencies import UnknownClassifierError
from pipeline.errors import (
    ConfigurationError,
    ImaginemError,
    InputImageError,
    JobFormatError,
    StorageUnreachableError,
)
from pipeline.job_record import PIPELINELOGS, JobOutcome, PipelineLog, job_progress, step_timings
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3, 4, 5

_console = Console()
_errors = errors()


def _services(settings: Settings) -> Services:
    """The services, once the storage account answered a quick probe (else exit 4 within seconds)."""
    services = Services.from_settings(settings)
    probe_storage(services.storage)
    return services


def _pipeline(args: argparse.Namespace, services: Services) -> list[str]:
    if getattr(args, "classifiers", None):
        return services.dependencies.resolve([c.strip() for c in args.classifiers.split(",") if c.strip()])
    if getattr(args, "pipeline", None):
        return [q.strip() for q in args.pipeline.split(",") if q.strip()]
    return list(services.settings.pipeline_definition)


def cmd_azurite(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from pipeline.host.azurite import start_azurite

    location = Path(args.location) if args.location else None
    emulator = start_azurite(ports=(args.blob_port, args.blob_port + 1, args.blob_port + 2), location=location,
                             quiet=not args.verbose)
    # SIGTERM (a service manager, `kill`) stops node too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _console.print(f"Azurite {'in memory' if location is None else f'persisting to {location}'} on "
                   f"127.0.0.1:{args.blob_port}-{args.blob_port + 2}. Ctrl-C stops it.")
    _console.print(f"AzureWebJobsStorage={emulator.connection_string}", soft_wrap=True, highlight=False)
    try:
        while emulator.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        emulator.stop()
    _errors.print(f"azurite exited on its own with code {emulator.process.returncode}")
    return EXIT_FAILED


def cmd_host(args: argparse.Namespace, settings: Settings) -> int:
    import threading

    from pipeline.host.localhost import LocalHost
    from pipeline.hostconfig import QueueConfig

    # Supervised worker processes even for one: a crashed or timed-out worker is restarted.
    host = LocalHost(app=args.app, settings=settings, config=QueueConfig.load(Path(args.host_json)),
                     workers=args.workers, http_port=args.port, processes=True, storage_wait=args.storage_wait)

    def announce() -> None:  # only once the routes listen: a URL printed before a failed start misleads
        if host.ready.wait() and not host.stop.is_set():
            _errors.print(f"dashboard: http://127.0.0.1:{args.port}/api/dashboard/", highlight=False)

    threading.Thread(target=announce, daemon=True).start()
    host.serve()  # returns on Ctrl-C / SIGTERM only; raises StorageUnreachableError (5), ConfigurationError (4)
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    import requests

    from pipeline.cli.dashboard_url import page_url

    url = page_url(args.port)
    print(url)
    try:
        requests.get(url, timeout=3).raise_for_status()
    except requests.RequestException:
        _errors.print(f"nothing answers at {url} yet: start `imaginem host --port {args.port}` (and Azurite)",
                      soft_wrap=True, highlight=False)
        return EXIT_FAILED
    return EXIT_OK


def cmd_submit(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.checks import check_inputs, skipped_lines
    from pipeline.submit import Submitter, new_batch_id

    # Checked as the dashboard's upload checks, before storage is even probed: a bad input stores nothing.
    found = check_inputs(args.inputs, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)
    for line in skipped_lines(found):
        _errors.print(line, highlight=False, soft_wrap=True)
    services = _services(settings)
    submitter = Submitter(services)
    batch_id = args.batch or new_batch_id()
    jobs = [submitter.job_from_file(f) for f in found.job_files]
    if found.images:
        jobs += submitter.images(found.images, batch_id=batch_id, pipeline=_pipeline(args, services))
    if not jobs:
        _errors.print("nothing to submit: give job .json files, images, folders or URLs")
        return EXIT_USAGE
    for job in jobs:
        submitter.send(job)
    batches = sorted({job.batch_id for job in jobs})
    _errors.print(f"submitted {len(jobs)} job(s) to {', '.join(sorted({j.queue for j in jobs}))}")
    print("\n".join(batches))
    return EXIT_OK


def cmd_wait(args: argparse.Namespace, settings: Settings) -> int:
    log = PipelineLog(_services(settings).storage.table(PIPELINELOGS))
    jobs = wait_for_batch(log, args.batch, timeout=args.timeout, interval=args.interval, console=_errors,
                          grace=args.grace)
    if jobs is None:
        _errors.print(f"timed out after {args.timeout:g} s; `imaginem status {args.batch}` shows where each job is",
                      highlight=False)
        return EXIT_TIMEOUT
    if not jobs:
        _errors.print(f"no such batch {args.batch!r}: no jobs after {min(args.grace, args.timeout):g} s; "
                      "check the batch id that `imaginem submit` printed", highlight=False)
        return EXIT_USAGE
    from pipeline.cli.status_view import print_outcomes

    print_outcomes(output(piped_width=TABLE_WIDTH), args.batch, jobs)
    counts = {outcome: sum(1 for j in jobs if j.outcome == outcome) for outcome in JobOutcome}
    _errors.print(", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n), highlight=False)
    if counts[JobOutcome.STOPPED]:
        _errors.print(f"{counts[JobOutcome.STOPPED]} job(s) stopped before their last step (see the poison "
                      "queues; `imaginem requeue` runs them again once the cause is fixed)", highlight=False)
    return EXIT_OK if counts[JobOutcome.SUCCEEDED] == len(jobs) else EXIT_FAILED


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.status_view import print_batch, print_job, print_timings

    log = PipelineLog(_services(settings).storage.table(PIPELINELOGS))
    console = output(piped_width=TABLE_WIDTH)
    if args.job:
        entity = log.read(args.batch, args.job)
        if entity is None:
            known = bool(log.batch(args.batch))
            _errors.print(f"no job {args.job!r} in batch {args.batch!r}" if known else f"no such batch {args.batch!r}",
                          highlight=False)
            return EXIT_USAGE
        if args.json:
            print(json.dumps({k: v for k, v in entity.items() if isinstance(v, (str, int, float, bool))}, indent=2))
            return EXIT_OK
        progress = job_progress(entity)
        print_job(console, f"{args.batch} / {args.job}: {progress.outcome}", entity, list(progress.steps))
        print_timings(console, progress.steps, step_timings(entity))
        return EXIT_OK
    entities = log.batch(args.batch)
    jobs = [job_progress(e) for e in entities]
    if not jobs:
        _errors.print(f"no such batch {args.batch!r}: check the batch id that `imaginem submit` printed",
                      highlight=False)
        return EXIT_USAGE
    if args.json:
        print(json.dumps([{"job": j.job_id, "state": j.state, "outcome": j.outcome, "failed_steps": j.failed_steps,
                           "steps": j.steps, "exceptions": j.exceptions, "skipped": j.skipped} for j in jobs],
                         indent=2))
        return EXIT_OK
    print_batch(console, args.batch, jobs, entities)
    return EXIT_OK


def cmd_clear(args: argparse.Namespace, settings: Settings) -> int:
    services = _services(settings)
    queues = _pipeline(args, services)
    where = services.storage.queue_service.url
    if not args.yes:
        question = (f"empty {len(queues)} queue(s) and their -poison queues at {where} "
                    f"({', '.join(queues)})? Their messages are lost. [y/N] ")
        if not sys.stdin.isatty():
            _errors.print(f"clear would empty {len(queues)} queue(s) and their -poison queues at {where}: "
                          "add --yes to confirm (there is no terminal to ask)", highlight=False)
            return EXIT_USAGE
        if input(question).strip().lower() not in ("y", "yes"):
            _errors.print("nothing cleared")
            return EXIT_FAILED
    console = output()
    for queue in queues:
        counts = []
        for name in (queue, f"{queue}-poison"):
            client = services.storage.queue(name)
            counts.append(client.get_queue_properties().approximate_message_count)
            client.clear_messages()
        console.print(f"cleared {queue} ({counts[0]} message(s)) and {queue}-poison ({counts[1]})", highlight=False)
    return EXIT_OK


def cmd_requeue(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.requeue import requeue
    from pipeline.job import parse_job

    services = _services(settings)
    report = requeue(storage=services.storage, log=PipelineLog(services.storage.table(PIPELINELOGS)),
                     queues=_pipeline(args, services),
                     parse=lambda body: parse_job(body, default_pipeline=settings.pipeline_definition,
                                                  resolve=services.dependencies.resolve,
                                                  max_steps=settings.max_pipeline_steps))
    _errors.print(f"requeued {report.moved} message(s) from the poison queues", highlight=False)
    if report.left:
        _errors.print(f"left {len(report.left)} message(s) that are not jobs in their poison queues "
                      "(requeued they would only be poisoned again):", highlight=False)
        for queue, reason in report.left:
            _errors.print(f"  {queue}: {reason}", highlight=False, markup=False)
    return EXIT_OK if not report.left else EXIT_FAILED


def cmd_samples(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.samples import write_samples

    for path in write_samples(Path(args.folder)):
        print(path)
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.dependencies import Dependencies

    print(",".join(Dependencies.load().resolve(args.classifiers)))
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imaginem", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("azurite", help="start the pinned Azurite emulator")
    p.add_argument("--location", help="persist data in this folder (default: in memory)")
    p.add_argument("--blob-port", type=int, default=10000, help="blob port; queue and table use the next two")
    p.set_defaults(handler=cmd_azurite)

    p = commands.add_parser("host", help="run the Functions app locally: queue triggers and HTTP routes")
    p.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    p.add_argument("--workers", type=int, default=1, help="worker processes competing for the queues")
    p.add_argument("--port", type=int, default=7071, help="HTTP port for /api routes")
    p.add_argument("--host-json", default="host.json", help="queue settings (extensions.queues)")
    p.add_argument("--storage-wait", type=float, default=30, metavar="SECONDS",
                   help="how long to wait for storage to answer at the start before exit 5 (default 30)")
    p.set_defaults(handler=cmd_host)

    p = commands.add_parser("dashboard", help="print the dashboard's URL (served by `imaginem host`)")
    p.add_argument("--port", type=int, default=7071, help="the host's HTTP port")
    p.set_defaults(handler=cmd_dashboard)

    p = commands.add_parser("submit", help="drop jobs on their first queue; prints the batch id")
    p.add_argument("inputs", nargs="+", help="job .json files, images, folders of images, or http(s) URLs")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--pipeline", help="comma-separated queues for images (default: PIPELINE_DEFINITION)")
    group.add_argument("--classifiers", help="comma-separated classifiers; their dependencies are added")
    p.add_argument("--batch", help="batch id for images (default: a new one)")
    p.set_defaults(handler=cmd_submit)

    p = commands.add_parser(
        "wait", help="show progress until every job of a batch is finished or stopped, then each job's outcome",
        description="Show progress until every job of the batch is finished or stopped, then each job's outcome: "
                    "succeeded, finished with failures (some step failed), or stopped (in a poison queue).",
        epilog="exit codes: 0 every job succeeded; 1 some job finished with failures or stopped; 2 no such batch (no "
               "jobs after --grace seconds); 3 timed out; 4 a bad setting; 5 storage unreachable")
    p.add_argument("batch")
    p.add_argument("--timeout", type=float, default=600, help="seconds before giving up (exit 3)")
    # A job sent by another tool (az, the SDK) appears in pipelinelogs only when its first step ends,
    # after the models load: the default leaves room for that.
    p.add_argument("--grace", type=float, default=60,
                   help="seconds to wait for the batch's first job before saying it has none (exit 2; default 60)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between looks at pipelinelogs")
    p.set_defaults(handler=cmd_wait)

    p = commands.add_parser("status", help="a batch's jobs with their outcome and steps (or one job's entity)")
    p.add_argument("batch")
    p.add_argument("job", nargs="?")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_status)

    p = commands.add_parser("clear", help="empty a pipeline's queues and their poison queues (asks first)")
    p.add_argument("--pipeline", help="comma-separated queues (default: PIPELINE_DEFINITION)")
    p.add_argument("--yes", action="store_true", help="do not ask (needed when there is no terminal to ask on)")
    p.set_defaults(handler=cmd_clear)

    p = commands.add_parser("requeue", help="move poisoned messages back to their queues, to run again")
    p.add_argument("--pipeline", help="comma-separated queues (default: PIPELINE_DEFINITION)")
    p.set_defaults(handler=cmd_requeue)

    p = commands.add_parser("samples", help="write the demo's sample photos (a cat, an astronaut, …) into a folder")
    p.add_argument("folder")
    p.set_defaults(handler=cmd_samples)

    p = commands.add_parser("resolve", help="order classifiers with their dependencies")
    p.add_argument("classifiers", nargs="+")
    p.set_defaults(handler=cmd_resolve)

    cli_results.register(commands)
    cli_people.register(commands)
    demo.register(commands)
    cli_forget.register(commands)
    return parser


def load_local_settings(path: Path = Path("local.settings.json")) -> None:
    """Like `func start`: the Values of local.settings.json fill in settings the environment lacks."""
    if not path.is_file():
        return
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    except (OSError, json.JSONDecodeError, AttributeError) as e:
        raise ConfigurationError(f"{path}: {e}") from None
    for name, value in values.items():
        if isinstance(value, str) and value:
            os.environ.setdefault(name, value)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "host":
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not args.verbose:
        logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        load_local_settings()
        settings = Settings.from_env()
        return int(args.handler(args, settings))
    except (JobFormatError, InputImageError, UnknownClassifierError, FileNotFoundError) as e:
        _errors.print(f"error: {e}", highlight=False)
        return EXIT_USAGE
    except StorageUnreachableError as e:
        _errors.print(f"storage unreachable: {e}", highlight=False)
        return EXIT_UNREACHABLE
    except ConfigurationError as e:
        _errors.print(f"configuration error: {e}", highlight=False)
        return EXIT_CONFIG
    except AzureError as e:
        _errors.print(f"storage error ({type(e).__name__}): {str(e).splitlines()[0]}\n"
                      "Is Azurite running (`imaginem azurite`) or AzureWebJobsStorage right?", highlight=False)
        return EXIT_CONFIG
    except ImaginemError as e:
        _errors.print(f"error: {e}", highlight=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
