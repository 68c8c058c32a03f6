"""``imaginem results``: read pipeline_output back, as a table or as JSON.

    imaginem results                         the most recent jobs
    imaginem results --batch B C             the jobs of batch B or C
    imaginem results --label cat dog         the jobs having any of these labels (with --batch too)
    imaginem results --outcome "finished with failures"   only jobs with a failed step (or: succeeded)
    imaginem results --batches               recent batches with their job counts
    imaginem results --top-labels            the distinct labels with their job counts
    imaginem results --person Alice          the jobs with a face of that person now (name or person id)

Without SQL_CONNECTION_STRING the results are in ``.imaginem/imaginem.db`` of the working folder (where
``imaginem host`` ran): the file read is named on stderr, and a folder without one is an error (exit 4).

Exit codes: 0 success (an empty result too); 2 bad usage; 4 the database cannot be reached, or there is none.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text

from classifiers.backends.face_index import PersonsUnsupportedError
from pipeline.cli.consoles import TABLE_WIDTH, output
from pipeline.cli.consoles import errors as error_console
from pipeline.cli.tables import Column, print_table
from pipeline.errors import ImaginemError
from pipeline.people import UnknownPersonError, find_person
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.sql.labels import KINDS, Label
from pipeline.sql.queries import MAX_LIMIT, BatchRow, JobRow, LabelCount, ResultsQueries

__all__ = ["register", "run"]

EXIT_OK, EXIT_USAGE, EXIT_CONFIG = 0, 2, 4
_LABELS_SHOWN = 6
OUTCOMES = ("succeeded", "finished with failures")  # progress.JobOutcome's values a finished row can have


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "results", help="show finished jobs from pipeline_output (SQL)",
        description="Show finished jobs from the pipeline_output table, newest first.",
    )
    parser.add_argument("--batch", action="extend", nargs="+", default=[], metavar="BATCH",
                        help="only the jobs (or, with --top-labels, the labels) of these batches")
    parser.add_argument("--label", action="extend", nargs="+", default=[], metavar="LABEL",
                        help="only jobs having any of these labels (tags, categories, caption or text words, "
                             "matched face ids)")
    parser.add_argument("--outcome", action="append", default=[], choices=OUTCOMES,
                        type=lambda text: text.replace("-", " "),
                        help="only jobs with this outcome (repeat for several; finished-with-failures works too)")
    parser.add_argument("--person", metavar="NAME_OR_ID",
                        help="only jobs with a face of this person now (after renames, merges and splits)")
    parser.add_argument("--kind", choices=KINDS, help="with --label or --top-labels: only labels of this kind")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--batches", action="store_true", help="list recent batches with their job counts")
    view.add_argument("--top-labels", action="store_true", help="list the labels with the number of jobs having each")
    parser.add_argument("--limit", type=int, default=20, help=f"rows to show (1-{MAX_LIMIT}, default 20)")
    parser.add_argument("--offset", type=int, default=0, help="rows to skip, for the next page")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    errors = error_console()
    database = Database.from_settings(settings)
    if database.embedded:
        # Each folder has its own .imaginem: say which one is read, and never create an empty one to read.
        path = Path(database.target).absolute()
        if not path.is_file():
            errors.print(f"results: no results database at {path}: no job has finished with this folder's "
                         "`imaginem host` yet. Run `imaginem results` where the host runs, or set "
                         "IMAGINEM_DATA_DIR or SQL_CONNECTION_STRING.", markup=False, highlight=False)
            return EXIT_CONFIG
        errors.print(f"reading {path}", markup=False, highlight=False)
    queries = ResultsQueries(database=database)
    try:
        rows = _person_jobs(args, settings, queries) if args.person else _query(args, queries)
    except (UnknownPersonError, PersonsUnsupportedError) as e:
        errors.print(Text.assemble(("results: ", "red"), str(e)))
        return EXIT_USAGE
    except ValueError as e:
        errors.print(f"[red]results:[/red] {e}", highlight=False)
        return EXIT_USAGE
    except ImaginemError as e:
        errors.print(f"[red]results:[/red] {e}", highlight=False)
        return EXIT_CONFIG
    finally:
        database.close()
    if args.json:
        sys.stdout.write(json.dumps([row.to_dict() for row in rows], ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    console = output(piped_width=TABLE_WIDTH)
    if not rows:
        console.print(f"No results in {database.engine} at {database.target}.", highlight=False)
        return EXIT_OK
    print_table(console, _columns(rows), title=_title(args, database))
    if len(rows) == args.limit:
        console.print(f"More may follow: --offset {args.offset + args.limit}", style="dim")
    return EXIT_OK


def _query(args: argparse.Namespace, queries: ResultsQueries) -> Sequence[JobRow | BatchRow | LabelCount]:
    page = {"offset": args.offset, "limit": args.limit}
    if args.batches:
        return queries.recent_batches(**page)
    if args.top_labels:
        return queries.label_counts(kind=args.kind, batch_ids=args.batch, **page)
    return queries.recent_jobs(batch_ids=args.batch, labels=args.label, kind=args.kind, outcomes=args.outcome, **page)


def _person_jobs(args: argparse.Namespace, settings: Settings, queries: ResultsQueries) -> list[JobRow]:
    """The finished jobs with a face of the person, newest face first, one page."""
    from pipeline.cli.people import face_index

    index = face_index(settings)
    try:
        person = find_person(index, args.person)
        keys = [(p.batch_id, p.job_id) for p in index.photos_of(person, offset=args.offset, limit=args.limit)]
    finally:
        close = getattr(index, "close", None)
        if close is not None:
            close()
    rows = []
    for batch_id, job_id in keys:
        row = queries.job(job_id, batch_id)
        if row is not None:
            labels = tuple(Label(**x) for x in row.get("labels", []))
            rows.append(JobRow(job_id, batch_id, str(row.get("image_url", "")), str(row["timestamp"]), labels,
                               str(row.get("outcome", ""))))
    return rows


def _title(args: argparse.Namespace, database: Database) -> str:
    parts = ["batches" if args.batches else "labels" if args.top_labels else "jobs"]
    jobs = not (args.batches or args.top_labels)
    if args.batch and not args.batches:
        parts.append(f"of batch {' or '.join(args.batch)}")
    if args.person and jobs:
        parts.append(f"with {escape(args.person)}")
    if args.label and jobs:
        parts.append("labelled " + " or ".join(args.label))
    if args.outcome and jobs:
        parts.append("that " + " or ".join(args.outcome))
    return f"{' '.join(parts)} — {database.engine}"


def _columns(rows: Sequence[Any]) -> list[Column]:
    """Job ids, batch ids and outcomes whole; URLs lose their middle, labels fold, timestamps go first."""
    if isinstance(rows[0], BatchRow):
        return [Column("batch", [b.batch_id for b in rows], give="keep"),
                Column("jobs", [str(b.jobs) for b in rows], give="keep", justify="right"),
                Column("with failures", [str(b.with_failures) for b in rows], give="keep", justify="right"),
                Column("first", [b.first for b in rows], give="keep", drop=1),
                Column("last", [b.last for b in rows], give="keep", drop=2)]
    if isinstance(rows[0], LabelCount):
        return [Column("kind", [c.kind for c in rows], give="keep", drop=1),
                Column("label", [c.name for c in rows]),
                Column("jobs", [str(c.jobs) for c in rows], give="keep", justify="right")]
    labels = [", ".join(name if confidence is None else f"{name} {confidence:.2f}"
                        for _, name, confidence in job.labels[:_LABELS_SHOWN]) for job in rows]
    return [Column("finished", [job.timestamp[:19].replace("T", " ") for job in rows], give="keep", drop=1),
            Column("batch", [job.batch_id for job in rows], give="keep", drop=2),
            Column("job", [job.id for job in rows], give="keep"),
            Column("outcome", [job.outcome for job in rows], give="keep"),
            Column("image", [job.image_url for job in rows], give="middle", drop=3),
            Column("labels", labels, drop=4)]
