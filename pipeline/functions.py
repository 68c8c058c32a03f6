"""Azure Functions wiring: one queue-triggered function per classifier, all sharing one StepRunner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import azure.functions as func

from pipeline.classifier import Classifier
from pipeline.hostconfig import QueueConfig
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.step import StepRunner

__all__ = ["Lazy", "classifier_blueprint", "step_runner"]

STORAGE_CONNECTION = "AzureWebJobsStorage"
T = TypeVar("T")


class Lazy(Generic[T]):
    """Builds a value on first use, once, even with several threads asking at the same time."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()
        self._configure: list[Callable[[T], None]] = []

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    value = self._build()
                    for configure in self._configure:
                        configure(value)
                    self._value = value
        return self._value

    def then(self, configure: Callable[[T], None]) -> None:
        """Call ``configure`` with the value once it is built (at once if it already is)."""
        with self._lock:
            if self._value is None:
                self._configure.append(configure)
                return
        configure(self._value)


def step_runner(settings: Settings | None = None, queue_config: QueueConfig | None = None) -> Lazy[StepRunner]:
    """The process's step runner, built on the first message (importing the app does no I/O)."""

    def build() -> StepRunner:
        config = queue_config or QueueConfig.load()
        services = Services.from_settings(settings or Settings.from_env())
        return StepRunner(services=services, max_dequeue_count=config.max_dequeue_count)

    return Lazy(build)


def classifier_blueprint(
    name: str, build: Callable[[Services], Classifier], runner: Lazy[StepRunner]
) -> func.Blueprint:
    """A blueprint with one function, triggered by the queue ``name``, running ``build(services)``'s classifier."""
    blueprint = func.Blueprint()
    classifier = Lazy(lambda: build(runner.get().services))
    runner.then(lambda r: r.serve(name))  # a pipeline may name this queue: somebody serves it

    @blueprint.function_name(name)
    @blueprint.queue_trigger(arg_name="msg", queue_name=name, connection=STORAGE_CONNECTION)
    def step(msg: func.QueueMessage) -> None:
        runner.get().run(msg.get_body(), queue=name, classifier=classifier.get(),
                         dequeue_count=msg.dequeue_count or 1)

    return blueprint
