"""The dashboard's HTTP functions: the page under ``/api/dashboard/`` and its JSON API.

Routes (all under ``/api``)::

    GET  dashboard/{*path}             the page and its files (dashboard/static)
    GET  uploads                       the upload limits and the classifiers
    POST uploads                       multipart form → a new batch (dashboard.upload)
    GET  batches                       recent batches (SQL)
    GET  batches/{batch}               every job of a batch with its steps, live (pipelinelogs); with
                                       ?since=<cursor> only the jobs changed since (dashboard.batch_changes)
    GET  batches/{batch}/jobs/{job}    one job: the whole entity, each step, its faces
    GET  results                       finished jobs newest first; ?label=…&batch=…&offset=&limit=
    GET  labels                        labels with their counts, for the filter
    (People: ``dashboard.people_api``, persons from the face index)
    GET  images/{container}/{*blob}    an image or face crop, read with the app's credentials

Plain HTTP functions rather than an ASGI app: the same blueprint wiring as every other function,
no extra runtime package, and the local host serves them exactly as Functions does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func

from dashboard.batch_changes import BatchChanges, parse_cursor
from dashboard.cards import card, matched_image_urls
from dashboard.images import ImageRoute
from dashboard.jobs import batch_view, job_view
from dashboard.keys import bad_blob_name, bad_key
from dashboard.static import static_file
from dashboard.store import OutputStore
from dashboard.upload import UploadError, parse_form, submit_upload
from pipeline.job_record import PIPELINELOGS, PipelineLog
from pipeline.lazy import Lazy
from pipeline.linked import LinkedContent
from pipeline.responses import error, json_response
from pipeline.root import Root
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.queries import MAX_FILTER_VALUES, MAX_LABELS, ResultsQueries

__all__ = ["UPLOAD_HEADER", "DashboardContext", "dashboard_blueprint"]

_log = logging.getLogger(__name__)

_PAGE = 24
UPLOAD_HEADER = "X-Imaginem-Upload"


@dataclass(frozen=True)
class DashboardContext:
    services: Services
    queries: ResultsQueries
    outputs: OutputStore
    log: PipelineLog
    changes: BatchChanges
    images: ImageRoute
    linked: LinkedContent

    @classmethod
    def from_services(cls, services: Services) -> DashboardContext:
        settings, database = services.settings, services.database
        return cls(services=services, queries=ResultsQueries(database=database),
                   outputs=OutputStore(database=database),
                   log=PipelineLog(services.storage.table(PIPELINELOGS)),
                   changes=BatchChanges(table=services.storage.table(PIPELINELOGS)),
                   images=ImageRoute(storage=services.storage,
                                     containers=(*settings.input_containers, settings.faces_container),
                                     max_bytes=settings.image_max_bytes),
                   linked=LinkedContent(services.storage))


def _query(req: func.HttpRequest) -> dict[str, list[str]]:
    """Every value of each query key (``params`` joins repeated keys with commas, as Functions does)."""
    return parse_qs(urlsplit(req.url).query)


def _int(values: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = (values.get(name) or [str(default)])[-1]
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if not low <= number <= high:
        raise ValueError(f"{name}={number} is not between {low} and {high}")
    return number


def _results(context: DashboardContext, req: func.HttpRequest) -> dict[str, Any]:
    query = _query(req)
    offset = _int(query, "offset", 0, 0, 1_000_000)
    limit = _int(query, "limit", _PAGE, 1, 100)
    labels = list(dict.fromkeys(v for v in query.get("label", []) if v))
    batches = set(v for v in query.get("batch", []) if v)
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} labels to filter by; at most {MAX_LABELS} at once")
    if len(batches) > MAX_FILTER_VALUES:
        raise ValueError(f"{len(batches)} batches to filter by; at most {MAX_FILTER_VALUES} at once")
    rows = context.queries.recent_jobs(offset=offset, limit=limit + 1, batch_ids=sorted(batches), labels=labels)
    page, more = rows[:limit], len(rows) > limit
    finished = context.outputs.outputs([(r.batch_id, r.id) for r in page])
    found = [finished[(r.batch_id, r.id)] for r in page if (r.batch_id, r.id) in finished]
    owners = context.outputs.jobs_of_images(matched_image_urls(found))
    cards = []
    for row in page:
        job = finished.get((row.batch_id, row.id))
        if job is not None:
            cards.append(card(job, address=context.images.address, jobs_of_images=owners, timestamp=row.timestamp,
                              labels=row.to_dict()["labels"]) | {"outcome": row.outcome})
    return {"results": cards, "offset": offset, "next": offset + limit if more else None}


def dashboard_blueprint(settings: Settings | None = None, *, root: Root | None = None) -> func.Blueprint:
    """The dashboard's functions over ``root``'s services (a root of ``settings`` when not given); storage and
    SQL are reached on the first request (import does no I/O)."""
    blueprint = func.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)
    root = root or Root(settings=settings)
    lazy = Lazy(lambda: DashboardContext.from_services(root.services))

    @blueprint.function_name("dashboard_page")
    @blueprint.route(route="dashboard/{*path}", methods=["GET"])
    def page(req: func.HttpRequest) -> func.HttpResponse:
        return static_file(req.route_params.get("path", ""))

    @blueprint.function_name("dashboard_uploads")
    @blueprint.route(route="uploads", methods=["GET", "POST"])
    def uploads(req: func.HttpRequest) -> func.HttpResponse:
        context = lazy.get()
        services = context.services
        if req.method == "GET":
            return json_response({"max_files": services.settings.dashboard_max_files,
                                  "max_bytes": services.settings.image_max_bytes,
                                  "classifiers": list(services.dependencies.classifiers),
                                  "default_pipeline": list(services.settings.pipeline_definition)})
        if req.headers.get(UPLOAD_HEADER) != "1":
            # A custom header makes a cross-site request need a CORS preflight, which the app never grants:
            # another site cannot submit uploads with a signed-in user's cookie.
            return error(403, f"send uploads from the dashboard page (header {UPLOAD_HEADER}: 1)")
        try:
            form = parse_form(req.headers.get("content-type", ""), req.get_body())
            submitted = submit_upload(form, services=services, max_files=services.settings.dashboard_max_files)
        except UploadError as e:
            return error(e.status, str(e))
        _log.info("dashboard upload: batch %s with %d job(s)", submitted["batch_id"], len(submitted["jobs"]))  # type: ignore[arg-type]
        return json_response(submitted, 201)

    @blueprint.function_name("dashboard_batches")
    @blueprint.route(route="batches", methods=["GET"])
    def batches(req: func.HttpRequest) -> func.HttpResponse:
        try:
            limit = _int(_query(req), "limit", 100, 1, 1000)
        except ValueError as e:
            return error(400, str(e))
        return json_response({"batches": [b.to_dict() for b in lazy.get().queries.recent_batches(limit=limit)]})

    @blueprint.function_name("dashboard_batch")
    @blueprint.route(route="batches/{batch}", methods=["GET"])
    def batch(req: func.HttpRequest) -> func.HttpResponse:
        batch_id = req.route_params["batch"]
        if (problem := bad_key("batch", batch_id)) is not None:
            return error(400, problem)
        since = (_query(req).get("since") or [""])[-1]
        try:
            changes = lazy.get().changes.read(batch_id, parse_cursor(since) if since else None)
        except ValueError as e:
            return error(400, str(e))
        view = batch_view(batch_id, changes.entities)
        if since:
            # Only what changed: the page merges these jobs into those it has and counts itself.
            return json_response({"batch_id": batch_id, "since": since, "jobs": view["jobs"],
                                  "cursor": changes.cursor or since})
        return json_response(view | {"cursor": changes.cursor})

    @blueprint.function_name("dashboard_job")
    @blueprint.route(route="batches/{batch}/jobs/{job}", methods=["GET"])
    def job(req: func.HttpRequest) -> func.HttpResponse:
        for kind in ("batch", "job"):
            if (problem := bad_key(kind, req.route_params[kind])) is not None:
                return error(400, problem)
        context = lazy.get()
        entity = context.log.read(req.route_params["batch"], req.route_params["job"])
        if entity is None:
            return error(404, "no such job in that batch")
        view = job_view(entity, address=context.images.address, expand=_expander(context))
        finished = context.outputs.outputs([(view["batch_id"], view["id"])]).get((view["batch_id"], view["id"]))
        if finished is not None:
            owners = context.outputs.jobs_of_images(matched_image_urls([finished]))
            view["card"] = card(finished, address=context.images.address, jobs_of_images=owners)
        return json_response(view)

    @blueprint.function_name("dashboard_results")
    @blueprint.route(route="results", methods=["GET"])
    def results(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return json_response(_results(lazy.get(), req))
        except ValueError as e:
            return error(400, str(e))

    @blueprint.function_name("dashboard_labels")
    @blueprint.route(route="labels", methods=["GET"])
    def labels(req: func.HttpRequest) -> func.HttpResponse:
        queries = lazy.get().queries
        found = [c.to_dict() for kind in ("tag", "category") for c in queries.label_counts(kind=kind, limit=200)]
        return json_response({"labels": found})

    @blueprint.function_name("dashboard_images")
    @blueprint.route(route="images/{container}/{*blob}", methods=["GET"])
    def images(req: func.HttpRequest) -> func.HttpResponse:
        blob = req.route_params.get("blob", "")
        if (problem := bad_blob_name(blob)) is not None:
            return error(400, problem)
        return lazy.get().images.serve(req.route_params["container"], blob)

    return blueprint


def _expander(context: DashboardContext) -> Any:
    def expand(value: Any) -> Any:
        try:
            return context.linked.expand(value)
        except Exception as e:  # shown on the page, never fatal to it
            return {"error": f"linked content unreadable: {type(e).__name__}"}

    return expand
