"""Azure Functions wiring: one queue-triggered function per classifier, all sharing one StepRunner."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from pipeline.classifier import Classifier
from pipeline.hostconfig import QueueConfig
from pipeline.lazy import Lazy
from pipeline.root import Root
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.step import StepRunner

__all__ = ["Lazy", "classifier_blueprint", "step_runner"]

STORAGE_CONNECTION = "AzureWebJobsStorage"


def step_runner(settings: Settings | None = None, queue_config: QueueConfig | None = None, *,
                root: Root | None = None) -> Lazy[StepRunner]:
    """The process's step runner over ``root``'s services (a root of ``settings`` when not given), built on
    the first message (importing the app does no I/O)."""
    root = root or Root(settings=settings)

    def build() -> StepRunner:
        config = queue_config or QueueConfig.load()
        return StepRunner(services=root.services, max_dequeue_count=config.max_dequeue_count)

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
