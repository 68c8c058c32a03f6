"""``imaginem forget``: erase a job, a batch or a person from every store, for good.

    imaginem forget --job BATCH JOB        one job: its entity, blobs, SQL row, faces, queued messages
    imaginem forget --batch BATCH          every job of a batch, in flight or finished
    imaginem forget --person ID            a person of the face index (her id as `imaginem people` lists it;
                                           a merged id resolves): her faces and name everywhere, photos stay
    imaginem forget --person ID --with-photos   and the whole jobs her faces are in

Asks before erasing on a terminal; elsewhere ``--yes`` is required. Prints what each store removed.
Exit codes: 0 everything is gone; 1 something could not be removed (said which; run it again to finish);
2 bad usage or no confirmation; 4 storage or the database unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from classifiers.backends.face_index import PersonsUnsupportedError
from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser, ErasureReport
from pipeline.forget.target import Kind, Target
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["register", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "forget", help="erase a job, a batch or a person everywhere (pipelinelogs, blobs, SQL, faces, queues)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--job", nargs=2, metavar=("BATCH", "JOB"), help="one job of a batch")
    what.add_argument("--batch", metavar="BATCH", help="a whole batch")
    what.add_argument("--person", metavar="ID", help="a person (her id as `imaginem people` lists it)")
    parser.add_argument("--with-photos", action="store_true", help="with --person: forget the jobs of her photos too")
    parser.add_argument("--yes", action="store_true", help="do not ask (needed when not on a terminal)")
    parser.set_defaults(handler=run)


def target_of(args: argparse.Namespace) -> Target:
    if args.with_photos and not args.person:
        raise ValueError("--with-photos goes with --person")
    if args.job:
        return Target.job(*args.job)
    if args.batch:
        return Target.batch(args.batch)
    return Target.person(args.person, with_photos=args.with_photos)


def show(report: ErasureReport, console: Console) -> None:
    table = Table(title=f"forgotten: {report.target.describe()} ({report.seconds:.1f} s)")
    table.add_column("store")
    table.add_column("removed")
    table.add_column("could not", style="red")
    for store in report.stores:
        removed = ", ".join(f"{count} {what}" for what, count in store.removed.items() if count) or "nothing"
        table.add_row(store.store, removed, "\n".join(store.failures))
    console.print(table)


def run(args: argparse.Namespace, settings: Settings, *,
        eraser: Callable[[Services], Eraser] = build_eraser) -> int:
    console, errors = Console(), Console(stderr=True)
    try:
        target = target_of(args)
    except ValueError as e:
        errors.print(f"forget: {e}", highlight=False)
        return EXIT_USAGE
    if not args.yes:
        if not sys.stdin.isatty():
            errors.print(f"forget: not on a terminal; add --yes to erase {target.describe()}", highlight=False)
            return EXIT_USAGE
        answer = console.input(f"Erase {target.describe()} from every store? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            errors.print("forget: nothing erased")
            return EXIT_USAGE
    services = Services.from_settings(settings)
    try:
        unknown = target.kind is Kind.PERSON and services.face_index.resolve(target.person_id) is None
    except PersonsUnsupportedError as e:
        errors.print(f"forget: {e}", highlight=False)
        return EXIT_USAGE
    if unknown:
        errors.print(f"forget: the face index has no person {target.person_id!r} (`imaginem people` lists them); "
                     "erasing what may be left of her", highlight=False)
    report = eraser(services).forget(target, trigger="cli")
    show(report, console)
    if not report.complete:
        errors.print("forget: some things could not be removed (above); run the same command again to finish",
                     highlight=False)
        return EXIT_FAILED
    return EXIT_OK
