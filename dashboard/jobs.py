"""The Batch and Job pages' data, read from ``pipelinelogs`` (live, before a job reaches SQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dashboard.cards import face_boxes
from pipeline.job_record import JobOutcome, job_progress, parse_state, recorded_exception, recorded_output

__all__ = ["batch_view", "job_view"]

Address = Callable[[object], str | None]


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _steps(entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    progress = job_progress(entity)
    steps = []
    for queue, state in progress.steps.items():
        recorded = parse_state(entity.get(queue))
        steps.append({"queue": queue, "step": str(recorded[0]) if recorded else "", "state": state,
                      "output": recorded_output(entity, queue, lenient=True),
                      "exception": recorded_exception(entity, queue)})
    return steps


def _name(entity: Mapping[str, Any]) -> str:
    return str(entity.get("image_url", "")).rstrip("/").rsplit("/", 1)[-1]


def batch_view(batch_id: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    """Every job of a batch with its outcome and steps, and the counts by outcome."""
    jobs = []
    for entity in sorted(entities, key=lambda e: str(e.get("RowKey", ""))):
        progress = job_progress(entity)
        jobs.append({"id": progress.job_id, "name": _name(entity), "outcome": str(progress.outcome),
                     "steps": [{"queue": s["queue"], "state": s["state"]} for s in _steps(entity)],
                     "exceptions": {k: _plain(v) for k, v in progress.exceptions.items()},
                     # One cause, said once: the failures of their own, and how many steps were skipped for them.
                     "causes": progress.causes, "skipped": len(progress.skipped)})
    counts = Counter(job["outcome"] for job in jobs)
    return {"batch_id": batch_id, "jobs": jobs, "total": len(jobs),
            "counts": {str(outcome): counts.get(str(outcome), 0) for outcome in JobOutcome},
            "done": bool(jobs) and counts.get(str(JobOutcome.IN_PROGRESS), 0) == 0}


def job_view(entity: dict[str, Any], *, address: Address, expand: Callable[[Any], Any]) -> dict[str, Any]:
    """One job: its whole pipelinelogs entity, each step's state, output and exception, and its faces."""
    progress = job_progress(entity)
    steps = _steps(entity)
    outputs = {s["queue"]: expand(s["output"]) for s in steps if s["queue"] in ("facedetection",)}
    return {"batch_id": str(entity.get("PartitionKey", "")), "id": progress.job_id, "name": _name(entity),
            "outcome": str(progress.outcome), "image": address(entity.get("image_url")),
            "image_url": _plain(entity.get("image_url")), "steps": steps, "boxes": face_boxes(outputs),
            "entity": {k: _plain(v) for k, v in entity.items()}}
