"""The People API: persons straight from the face index (never regrouped per request), and a user's changes.

Routes (all under ``/api``)::

    GET   people                      persons, most faces first; ?offset=&limit=&hidden=1&name=<part of a name>
    GET   people/{person}             one person and its photos with their faces, paged; ?offset=&limit=
    PATCH people/{person}             {"name": "Alice" | null, "hidden": true | false}
    POST  people/{person}/merge       {"ids": [...]}: those persons join this one
    GET   people/{person}/results     the person's finished jobs as result cards, paged
    POST  faces/{face}/person         {"to": person} or {"new": true}: the face leaves its person, for good
    GET   faces/{face}/crop           the face as a square JPEG; ?size=96|160|256|384
    GET   faces?id=…&id=…             the person and name of each face (for names on face boxes)

Changes need the dashboard's custom header (as uploads): a cross-site form cannot send it, and a script of
another site would need a CORS preflight the app never grants. A person may be named by id or by name.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from classifiers.backends.face_index import FaceIndexBackend, PersonsUnsupportedError
from dashboard.blueprint import UPLOAD_HEADER, DashboardContext
from dashboard.cards import card, matched_image_urls
from dashboard.face_crops import CROP_SIZES, FaceCrops
from pipeline.lazy import Lazy
from pipeline.people import (
    UnknownPersonError,
    azure_face_note,
    clean_name,
    face_dict,
    find_person,
    merge_persons,
    person_dict,
)
from pipeline.responses import SECURITY_HEADERS, error, json_response
from pipeline.root import Root
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["CHANGE_HEADER", "PeopleContext", "people_blueprint", "people_page", "person_page"]

CHANGE_HEADER = UPLOAD_HEADER
_PAGE = 48
_MAX_BODY = 64 * 1024
_MAX_IDS = 100
_MAX_NAME = 100

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeopleContext:
    dashboard: DashboardContext
    index: FaceIndexBackend
    crops: FaceCrops
    note: str | None

    @classmethod
    def from_services(cls, services: Services) -> PeopleContext:
        settings = services.settings
        dashboard = DashboardContext.from_services(services)
        return cls(dashboard=dashboard, index=services.face_index,
                   crops=FaceCrops(storage=dashboard.services.storage, max_bytes=settings.image_max_bytes,
                                   max_pixels=settings.image_max_pixels),
                   note=azure_face_note(settings))


def crop_address(face_id: str, size: int = 256) -> str:
    return f"/api/faces/{quote(face_id, safe='')}/crop?size={size}"


def people_page(index: FaceIndexBackend, *, offset: int = 0, limit: int = _PAGE,
                include_hidden: bool = False, name: str | None = None) -> dict[str, Any]:
    """One page of persons, each with the address of its best face's crop (the index alone: no SQL); with
    ``name``, only the named persons whose name holds it."""
    found = index.persons(offset=offset, limit=limit + 1, include_hidden=include_hidden, name=name)
    page = found[:limit]
    return {"people": [person_dict(p) | {"crop": crop_address(p.best_face)} for p in page],
            "offset": offset, "next": offset + limit if len(found) > limit else None, "backend": index.kind}


def person_page(index: FaceIndexBackend, wanted: str, *, offset: int = 0, limit: int = _PAGE) -> dict[str, Any] | None:
    """A person and one page of its photos (newest first), each with its faces of this person."""
    person_id = index.resolve(wanted)
    person = None if person_id is None else index.person(person_id)
    if person is None:
        return None
    photos = index.photos_of(person.person_id, offset=offset, limit=limit + 1)
    return {"person": person_dict(person) | {"crop": crop_address(person.best_face)},
            "photos": [{"batch_id": p.batch_id, "job_id": p.job_id, "image_url": p.image_url,
                        "faces": [face_dict(f) | {"crop": crop_address(f.face_id, 160)} for f in p.faces]}
                       for p in photos[:limit]],
            "offset": offset, "next": offset + limit if len(photos) > limit else None}


def _number(req: func.HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = req.params.get(name, str(default)).split(",")[-1]
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={value} is not between {low} and {high}")
    return value


def _body(req: func.HttpRequest) -> dict[str, Any]:
    raw = req.get_body() or b""
    if len(raw) > _MAX_BODY:
        raise ValueError("request body too large")
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("send a JSON object") from None
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _refused(req: func.HttpRequest) -> func.HttpResponse | None:
    if req.headers.get(CHANGE_HEADER) != "1":
        return error(403, f"send changes from the dashboard page (header {CHANGE_HEADER}: 1)")
    return None


def _guarded(work: Any) -> func.HttpResponse:
    """Run a request's work; unknown persons and faces are 404, bad values 400, a name taken 409."""
    try:
        result: func.HttpResponse = work()
        return result
    except UnknownPersonError as e:
        return json_response({"error": str(e), "near": e.near}, 404)
    except KeyError as e:
        return error(404, str(e.args[0]) if e.args else "not found")
    except ValueError as e:
        return error(409 if "already named" in str(e) else 400, str(e))
    except PersonsUnsupportedError as e:
        return error(501, str(e))


def people_blueprint(settings: Settings | None = None, *, root: Root | None = None,
                     context: Lazy[PeopleContext] | None = None) -> func.Blueprint:
    """The People routes over ``root``'s services (a root of ``settings`` when not given); the face index is
    reached on the first request (import does no I/O). ``context``: the caller's own (to close its face index)."""
    blueprint = func.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)
    chosen = root or Root(settings=settings)
    lazy = context or Lazy(lambda: PeopleContext.from_services(chosen.services))

    @blueprint.function_name("people_list")
    @blueprint.route(route="people", methods=["GET"])
    def people(req: func.HttpRequest) -> func.HttpResponse:
        def work() -> func.HttpResponse:
            context = lazy.get()
            name = req.params.get("name", "").strip()
            if len(name) > _MAX_NAME:
                raise ValueError(f"name: at most {_MAX_NAME} characters")
            page = people_page(context.index, offset=_number(req, "offset", 0, 0, 10_000_000),
                               limit=_number(req, "limit", _PAGE, 1, 200),
                               include_hidden=req.params.get("hidden", "") in ("1", "true"), name=name or None)
            return json_response(page | {"note": context.note})

        return _guarded(work)

    @blueprint.function_name("people_person")
    @blueprint.route(route="people/{person}", methods=["GET", "PATCH"])
    def person(req: func.HttpRequest) -> func.HttpResponse:
        def work() -> func.HttpResponse:
            context = lazy.get()
            wanted = req.route_params["person"]
            if req.method == "PATCH":
                return _patch(context.index, wanted, req)
            found = person_page(context.index, find_person(context.index, wanted),
                                offset=_number(req, "offset", 0, 0, 10_000_000),
                                limit=_number(req, "limit", _PAGE, 1, 200))
            if found is None:
                return error(404, "no such person")
            keys = [(p["batch_id"], p["job_id"]) for p in found["photos"]]
            finished = context.dashboard.outputs.outputs(keys)
            for photo in found["photos"]:
                job = finished.get((photo["batch_id"], photo["job_id"]))
                photo["image"] = context.dashboard.images.address(photo.pop("image_url"))
                photo["name"] = str(job.image_parameters.get("original_name", "")) if job else ""
            return json_response(found | {"note": context.note})

        return _guarded(work)

    @blueprint.function_name("people_merge")
    @blueprint.route(route="people/{person}/merge", methods=["POST"])
    def merge(req: func.HttpRequest) -> func.HttpResponse:
        refused = _refused(req)
        if refused is not None:
            return refused

        def work() -> func.HttpResponse:
            index = lazy.get().index
            ids = _body(req).get("ids")
            if not isinstance(ids, list) or not ids or len(ids) > _MAX_IDS or not all(isinstance(i, str) for i in ids):
                raise ValueError(f"ids: a list of 1 to {_MAX_IDS} person ids")
            into = find_person(index, req.route_params["person"])
            joined = merge_persons(index, ids, into=into)
            _log.info("people: merged %d person(s) into %s", len(joined), into)
            merged = index.person(into)
            return json_response(person_dict(merged) if merged else {"id": into})

        return _guarded(work)

    @blueprint.function_name("people_results")
    @blueprint.route(route="people/{person}/results", methods=["GET"])
    def results(req: func.HttpRequest) -> func.HttpResponse:
        def work() -> func.HttpResponse:
            context = lazy.get()
            offset, limit = _number(req, "offset", 0, 0, 10_000_000), _number(req, "limit", 24, 1, 100)
            person_id = find_person(context.index, req.route_params["person"])
            photos = context.index.photos_of(person_id, offset=offset, limit=limit + 1)
            page = [(p.batch_id, p.job_id) for p in photos[:limit]]
            outputs = context.dashboard.outputs
            finished = outputs.outputs(page)
            owners = outputs.jobs_of_images(matched_image_urls(list(finished.values())))
            cards = [card(finished[key], address=context.dashboard.images.address, jobs_of_images=owners)
                     for key in page if key in finished]
            return json_response({"results": cards, "offset": offset,
                                  "next": offset + limit if len(photos) > limit else None})

        return _guarded(work)

    @blueprint.function_name("people_face_person")
    @blueprint.route(route="faces/{face}/person", methods=["POST"])
    def face_person(req: func.HttpRequest) -> func.HttpResponse:
        refused = _refused(req)
        if refused is not None:
            return refused

        def work() -> func.HttpResponse:
            index = lazy.get().index
            body = _body(req)
            if body.get("new") is True:
                target = None
            elif isinstance(body.get("to"), str):
                target = find_person(index, body["to"])
            else:
                raise ValueError('send {"to": person} or {"new": true}')
            person_id = index.split(req.route_params["face"], to_person=target)
            return json_response({"face_id": req.route_params["face"], "person_id": person_id})

        return _guarded(work)

    @blueprint.function_name("people_face_crop")
    @blueprint.route(route="faces/{face}/crop", methods=["GET"])
    def face_crop(req: func.HttpRequest) -> func.HttpResponse:
        try:
            size = _number(req, "size", 256, min(CROP_SIZES), max(CROP_SIZES))
        except ValueError as e:
            return error(400, str(e))
        size = min((s for s in CROP_SIZES if s >= size), default=max(CROP_SIZES))
        context = lazy.get()
        face = context.index.face(req.route_params["face"])
        if face is None:
            return error(404, "no such face")
        try:
            jpeg = context.crops.crop(face, size)
        except ResourceNotFoundError:
            return error(404, "the face's image is gone from this storage account")
        except ValueError as e:
            return error(415, f"the face's image cannot be read: {e}")
        if jpeg is None:
            return error(404, "the face's image is not in this pipeline's storage")
        headers = dict(SECURITY_HEADERS)
        # A face's pixels never change; the page may keep them (a person's best face is another face id).
        headers.update({"Content-Security-Policy": "default-src 'none'; sandbox",
                        "Cache-Control": "private, max-age=86400"})
        return func.HttpResponse(jpeg, mimetype="image/jpeg", headers=headers)

    @blueprint.function_name("people_faces")
    @blueprint.route(route="faces", methods=["GET"])
    def faces(req: func.HttpRequest) -> func.HttpResponse:
        ids = [i for i in req.params.get("id", "").split(",") if i][:_MAX_IDS]
        index = lazy.get().index
        found: dict[str, Any] = {}
        names: dict[str, str] | None = None
        for face_id in ids:
            face = index.face(face_id)
            if face is None:
                continue
            if names is None:
                names = {person: name for name, person in index.names().items()}
            found[face_id] = {"person_id": face.person_id, "name": names.get(face.person_id, "")}
        return json_response({"faces": found})

    return blueprint


def _patch(index: FaceIndexBackend, wanted: str, req: func.HttpRequest) -> func.HttpResponse:
    refused = _refused(req)
    if refused is not None:
        return refused
    body = _body(req)
    person_id = find_person(index, wanted)
    if "name" in body:
        index.rename(person_id, clean_name(body["name"]))
    if "hidden" in body:
        if not isinstance(body["hidden"], bool):
            raise ValueError("hidden: true or false")
        index.hide(person_id, hidden=body["hidden"])
    found = index.person(person_id)
    return json_response(person_dict(found) if found else {"id": person_id})
