"""The retention timer: a timer-triggered function that applies the retention schedule once a day
(03:30 UTC); the local host runs it as Functions does (``pipeline.host.timers``)."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.retention import Retention
from pipeline.functions import Lazy
from pipeline.root import Root
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["RETENTION_SCHEDULE", "retention_blueprint"]

RETENTION_SCHEDULE = "0 30 3 * * *"


def retention_blueprint(settings: Settings | None = None, *, root: Root | None = None,
                        schedule: str = RETENTION_SCHEDULE,
                        eraser: Callable[[Services], Eraser] = build_eraser) -> func.Blueprint:
    """The timer over ``root``'s services (a root of ``settings`` when not given), built at the first tick."""
    blueprint = func.Blueprint()
    chosen_root = root or Root(settings=settings)

    def build() -> Retention:
        services = chosen_root.services
        return Retention(settings=services.settings, storage=services.storage, eraser=eraser(services))

    retention = Lazy(build)

    @blueprint.function_name("retention")
    @blueprint.timer_trigger(arg_name="timer", schedule=schedule, run_on_startup=False, use_monitor=True)
    def apply(timer: func.TimerRequest) -> None:
        retention.get().apply()

    return blueprint
