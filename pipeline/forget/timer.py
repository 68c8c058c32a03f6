"""The retention timer: a timer-triggered function that applies the retention schedule once a day
(03:30 UTC); the local host runs it as Functions does (``pipeline.host.timers``)."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.retention import Retention
from pipeline.functions import Lazy
from pipeline.settings import Settings
from pipeline.storage import Storage

__all__ = ["RETENTION_SCHEDULE", "retention_blueprint"]

RETENTION_SCHEDULE = "0 30 3 * * *"


def retention_blueprint(settings: Settings | None = None, *, schedule: str = RETENTION_SCHEDULE,
                        eraser: Callable[[Settings, Storage], Eraser] | None = None) -> func.Blueprint:
    """``eraser`` builds the eraser (default: ``build_eraser`` with the table face index)."""
    blueprint = func.Blueprint()

    def build() -> Retention:
        chosen = settings or Settings.from_env()
        storage = Storage.from_settings(chosen)
        made = eraser(chosen, storage) if eraser else build_eraser(chosen, storage=storage)
        return Retention(settings=chosen, storage=storage, eraser=made)

    retention = Lazy(build)

    @blueprint.function_name("retention")
    @blueprint.timer_trigger(arg_name="timer", schedule=schedule, run_on_startup=False, use_monitor=True)
    def apply(timer: func.TimerRequest) -> None:
        retention.get().apply()

    return blueprint
