"""The erasure API: ``DELETE`` a batch, a job or a person (``pipeline.forget``), from the dashboard page.

Routes (under ``/api``)::

    DELETE batches/{batch}                 every job of the batch, in flight or finished
    DELETE batches/{batch}/jobs/{job}      one job
    DELETE people/{person}                 a person of the face index (her id as the People page shows it,
                                           a merged id resolves) everywhere; ?with_photos=1 also her photos' jobs

As for uploads, a request must carry the header ``X-Imaginem-Forget: 1``: a cross-site request with a
custom header needs a CORS preflight, which the app never grants, so another site cannot erase with a
signed-in user's cookie. 200 with what each store removed; 500 with the same body when something could
not be removed (sending it again finishes the work). Who asked (App Service authentication's
``X-MS-CLIENT-PRINCIPAL-NAME``) is recorded in the audit only as a salted hash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import azure.functions as func

from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser, ErasureReport
from pipeline.forget.target import Target
from pipeline.functions import Lazy
from pipeline.responses import error, json_response
from pipeline.root import Root
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["FORGET_HEADER", "forget_blueprint"]

_log = logging.getLogger(__name__)

FORGET_HEADER = "X-Imaginem-Forget"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL-NAME"


def _body(report: ErasureReport) -> dict[str, object]:
    return {"target": report.target.describe(), "complete": report.complete, "seconds": round(report.seconds, 2),
            "stores": [{"store": s.store, "removed": s.removed, "failures": s.failures} for s in report.stores]}


def forget_blueprint(settings: Settings | None = None, *, root: Root | None = None,
                     eraser: Callable[[Services], Eraser] = build_eraser) -> func.Blueprint:
    """The erasure routes over ``root``'s services (a root of ``settings`` when not given), so an erasure uses
    the worker's own face index; storage and SQL are reached on the first request (import does no I/O)."""
    blueprint = func.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)
    chosen_root = root or Root(settings=settings)
    lazy = Lazy(lambda: eraser(chosen_root.services))

    def forget(req: func.HttpRequest, target: Callable[[], Target]) -> func.HttpResponse:
        if req.headers.get(FORGET_HEADER) != "1":
            return error(403, f"send erasures from the dashboard page (header {FORGET_HEADER}: 1)")
        try:
            chosen = target()
        except ValueError as e:
            return error(400, str(e))
        report = lazy.get().forget(chosen, requested_by=req.headers.get(PRINCIPAL_HEADER), trigger="http")
        _log.info("dashboard forget: a %s, %s", chosen.kind, "complete" if report.complete else "incomplete")
        return json_response(_body(report), 200 if report.complete else 500)

    @blueprint.function_name("forget_batch")
    @blueprint.route(route="batches/{batch}", methods=["DELETE"])
    def batch(req: func.HttpRequest) -> func.HttpResponse:
        return forget(req, lambda: Target.batch(req.route_params["batch"]))

    @blueprint.function_name("forget_job")
    @blueprint.route(route="batches/{batch}/jobs/{job}", methods=["DELETE"])
    def job(req: func.HttpRequest) -> func.HttpResponse:
        return forget(req, lambda: Target.job(req.route_params["batch"], req.route_params["job"]))

    @blueprint.function_name("forget_person")
    @blueprint.route(route="people/{person}", methods=["DELETE"])
    def person(req: func.HttpRequest) -> func.HttpResponse:
        with_photos = (req.params.get("with_photos") or "").lower() in ("1", "true", "yes")
        return forget(req, lambda: Target.person(req.route_params["person"], with_photos=with_photos))

    return blueprint
