"""Timer triggers on the local host: NCRONTAB schedules (six fields, seconds first, UTC) as Functions reads them.

Each field is ``*``, ``*/n``, a number, a range ``a-b`` (with ``/n``) or a comma list of those; day of week
0-6 from Sunday. The host runs each timer function in one thread of its own process (as Functions runs a
timer on one instance), once at start when ``run_on_startup`` is set, then at each scheduled time; a run
that raises is logged and the schedule goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest

__all__ = ["TimerTrigger", "next_fire", "run_timers"]

_log = logging.getLogger(__name__)
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


@dataclass(frozen=True)
class TimerTrigger:
    function_name: str
    schedule: str
    run_on_startup: bool
    call: Callable[..., Any]


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            start, end = low, high
        elif "-" in span:
            start, end = (int(v) for v in span.split("-", 1))
        else:
            start = int(span)
            end = high if step_text else start
        if not (low <= start <= end <= high) or step < 1:
            raise ValueError(f"{part!r} is not within {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def next_fire(schedule: str, after: datetime) -> datetime:
    """The first moment strictly after ``after`` (UTC) that the schedule names."""
    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"schedule {schedule!r}: NCRONTAB needs six fields (second minute hour day month weekday)")
    seconds, minutes, hours, days, months, weekdays = (_field(f, *r) for f, r in zip(fields, _RANGES, strict=True))
    moment = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    limit = moment + timedelta(days=366 * 5)
    while moment < limit:
        if moment.month not in months or moment.day not in days or (moment.weekday() + 1) % 7 not in weekdays:
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        elif moment.hour not in hours:
            moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
        elif moment.minute not in minutes:
            moment = (moment + timedelta(minutes=1)).replace(second=0)
        elif moment.second not in seconds:
            moment += timedelta(seconds=1)
        else:
            return moment
    raise ValueError(f"schedule {schedule!r} never fires")


def _run(timer: TimerTrigger, past_due: bool) -> None:
    try:
        timer.call(TimerRequest(past_due=past_due))
    except Exception:
        _log.exception("timer %s failed", timer.function_name)


def run_timers(timers: Sequence[TimerTrigger], stop: threading.Event,
               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[threading.Thread]:
    """Start one thread per timer, running until ``stop`` is set."""

    def loop(timer: TimerTrigger) -> None:
        if timer.run_on_startup:
            _run(timer, False)
        while not stop.is_set():
            due = next_fire(timer.schedule, now())
            if stop.wait(max(0.0, (due - now()).total_seconds())):
                return
            _run(timer, (now() - due).total_seconds() > 60)

    threads = [threading.Thread(target=loop, args=(t,), name=f"imaginem-timer-{t.function_name}", daemon=True)
               for t in timers]
    for thread in threads:
        thread.start()
    return threads
