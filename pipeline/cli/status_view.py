"""What ``imaginem status`` and ``wait`` print: a batch as one row per job, a job as its properties in step order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.cli.tables import Column, print_table
from pipeline.job_record import JobProgress, step_properties, step_timings
from pipeline.timings import PHASES

__all__ = ["VALUE_LIMIT", "entity_order", "print_batch", "print_job", "print_outcomes", "print_timings",
           "steps_summary"]

VALUE_LIMIT = 600
"""Characters of one property shown in a job's table (a whole output is in `status --json`)."""
_FIRST = ("image_url",)
_LAST = ("job_output",)
_SYSTEM = ("PartitionKey", "RowKey", "Timestamp", "etag")


def steps_summary(job: JobProgress) -> str:
    """The steps of a job in a few words: how many succeeded, which failed, which is running."""
    states = list(job.steps.values())
    text = f"{states.count('success')}/{len(states)} ok"
    failed = job.failed_steps
    running = [queue for queue, state in job.steps.items() if state == "processing"]
    if failed:
        text += "; failed: " + ", ".join(failed)
    if running:
        text += "; at: " + ", ".join(running)
    return text


def _failures(job: JobProgress) -> str:
    """Each cause once: the failures of their own, then how many later steps were skipped because of them."""
    lines = [f"{k}: {v}" for k, v in job.causes.items()]
    if job.skipped:
        lines.append(f"{len(job.skipped)} later step(s) skipped")
    return "\n".join(lines)


def _total_ms(entity: Mapping[str, Any]) -> str:
    total = sum(t.get("total_ms", 0.0) for t in step_timings(entity).values())
    return f"{total:.0f}" if total else ""


def print_batch(console: Console, batch_id: str, jobs: Sequence[JobProgress],
                entities: Sequence[Mapping[str, Any]]) -> None:
    rows = sorted(zip(jobs, entities, strict=True), key=lambda pair: pair[0].job_id)
    print_table(console, [
        Column("job", [j.job_id for j, _ in rows], give="keep"),
        Column("outcome", [str(j.outcome) for j, _ in rows], give="keep"),
        Column("steps", [steps_summary(j) for j, _ in rows], drop=3),
        Column("total ms", [_total_ms(e) for _, e in rows], give="keep", drop=1, justify="right"),
        Column("exceptions", [_failures(j) for j, _ in rows], drop=2),
    ], title=f"batch {batch_id}", hint=f" (`imaginem status {batch_id} JOB` shows one job whole)")


def print_outcomes(console: Console, batch_id: str, jobs: Sequence[JobProgress]) -> None:
    rows = sorted(jobs, key=lambda j: j.job_id)
    print_table(console, [
        Column("job", [j.job_id for j in rows], give="keep"),
        Column("outcome", [str(j.outcome) for j in rows], give="keep"),
        Column("failed steps", [", ".join(j.failed_steps) for j in rows], drop=1),
    ], title=f"batch {batch_id}")


def entity_order(entity: Mapping[str, Any], steps: Sequence[str]) -> list[str]:
    """The entity's properties as the job went: its image, then each step's state, output, exception and
    timings in step order, then anything else by name, and the final message last."""
    order = [key for key in _FIRST if key in entity]
    for queue in steps:
        order += [key for key in step_properties(queue)
                  if key in entity and key not in order]
    rest = sorted(key for key in entity if key not in order and key not in _LAST and key not in _SYSTEM)
    return order + rest + [key for key in _LAST if key in entity]


def print_job(console: Console, title: str, entity: Mapping[str, Any], steps: Sequence[str]) -> None:
    keys = entity_order(entity, steps)
    values = [str(entity[key]) for key in keys]
    print_table(console, [
        Column("property", keys, give="keep"),
        Column("value", [v if len(v) <= VALUE_LIMIT else v[:VALUE_LIMIT] + " …" for v in values]),
    ], title=title, show_lines=True)


def print_timings(console: Console, steps: Mapping[str, str], timings: Mapping[str, Mapping[str, float]]) -> None:
    """One row per step that recorded its timings, in step order (``pipeline.timings``)."""
    if not timings:
        return
    order = [q for q in steps if q in timings] + sorted(q for q in timings if q not in steps)
    table = Table("step", *(p.removesuffix("_ms") for p in PHASES), title="timings (ms)")
    for column in table.columns[1:]:
        column.justify = "right"
    for name in order:
        table.add_row(name, *(f"{timings[name][p]:.1f}" if p in timings[name] else "—" for p in PHASES))
    console.print(table)
