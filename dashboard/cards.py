"""What the Results, Job and People pages show of a job, as JSON-ready dicts.

Values are passed on as data (the page renders them as text); image addresses are the
dashboard's own image route, or None when the image is not in our storage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dashboard.store import FinishedJob

__all__ = ["card", "face_boxes", "matched_image_urls"]

Address = Callable[[object], str | None]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _rectangle(value: Any) -> dict[str, float] | None:
    rect = _mapping(value)
    numbers = {k: _number(rect.get(k)) for k in ("left", "top", "width", "height")}
    return {k: v for k, v in numbers.items() if v is not None} if all(v is not None for v in numbers.values()) else None


def _face_ids(outputs: Mapping[str, Any]) -> dict[tuple[float, ...], str]:
    """facematch's face id of each rectangle: the id the face index knows the face by."""
    found = {}
    for entry in map(_mapping, _list(_mapping(outputs.get("facematch")).get("matches"))):
        rect, face_id = _rectangle(entry.get("faceRectangle")), entry.get("faceId")
        if rect is not None and isinstance(face_id, str) and face_id:
            found[tuple(rect.values())] = face_id
    return found


def face_boxes(outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """facedetection's faces: rectangle, landmark points {name: {x, y}}, confidence, and the face id (facematch's
    for the same rectangle, else facedetection's; None without either) to name the box with its person."""
    faces = []
    matched = _face_ids(outputs)
    for face in map(_mapping, _list(_mapping(outputs.get("facedetection")).get("faces"))):
        rect = _rectangle(face.get("faceRectangle"))
        if rect is None:
            continue
        landmarks = {}
        for name, point in _mapping(face.get("faceLandmarks")).items():
            x, y = _number(_mapping(point).get("x")), _number(_mapping(point).get("y"))
            if x is not None and y is not None:
                landmarks[str(name)] = {"x": x, "y": y}
        detected = face.get("faceId")
        face_id = matched.get(tuple(rect.values()), detected if isinstance(detected, str) and detected else None)
        faces.append({"rectangle": rect, "landmarks": landmarks, "confidence": _number(face.get("confidence")),
                      "face_id": face_id})
    return faces


def _ocr_text(outputs: Mapping[str, Any]) -> str:
    ocr = _mapping(outputs.get("ocr"))
    text = ocr.get("OCR_fullText")
    return text if isinstance(text, str) else ""


def card(job: FinishedJob, *, address: Address, jobs_of_images: Mapping[str, tuple[str, str]],
         timestamp: str = "", labels: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    outputs = job.job_output
    general = _mapping(outputs.get("generalclassification"))
    tags = [{"name": str(t.get("name")), "confidence": _number(t.get("confidence"))}
            for t in map(_mapping, _list(general.get("tags"))) if isinstance(t.get("name"), str)]
    categories = [{"name": str(c.get("name")), "confidence": _number(c.get("score"))}
                  for c in map(_mapping, _list(general.get("categories"))) if isinstance(c.get("name"), str)]
    captions = [c for c in map(_mapping, _list(_mapping(general.get("description")).get("captions")))
                if isinstance(c.get("text"), str)]
    metadata = _mapping(general.get("metadata"))
    boxes = face_boxes(outputs)
    crops = _list(_mapping(outputs.get("facecrop")).get("facesUrls"))
    faces = []
    for index, entry in enumerate(map(_mapping, _list(_mapping(outputs.get("facematch")).get("matches")))):
        seen = []
        for match in map(_mapping, _list(entry.get("matches"))):
            found = jobs_of_images.get(str(match.get("image_url")))
            seen.append({"batch_id": found[0] if found else None, "job_id": found[1] if found else None,
                         "confidence": _number(match.get("confidence")), "face_id": str(match.get("id", ""))})
        crop = crops[index] if index < len(crops) else None
        faces.append({"face_id": str(entry.get("faceId", "")), "crop": address(crop), "also_seen_in": seen})
    if not faces:  # no facematch step: the crops alone
        faces = [{"face_id": None, "crop": address(url), "also_seen_in": []} for url in crops]
    parameters = job.image_parameters
    image = address(job.image_url)
    return {
        "batch_id": job.batch_id,
        "id": job.id,
        "timestamp": timestamp,
        "name": str(parameters.get("original_name", "")),
        "image": image,
        "image_url": job.image_url if image is None else None,
        "width": _number(metadata.get("width")),
        "height": _number(metadata.get("height")),
        "boxes": boxes,
        "faces": faces,
        "tags": tags,
        "categories": categories,
        "caption": ({"text": str(captions[0]["text"]), "confidence": _number(captions[0].get("confidence"))}
                    if captions else None),
        "ocr_text": _ocr_text(outputs),
        "labels": labels or [],
    }


def matched_image_urls(jobs: list[FinishedJob]) -> list[str]:
    """The image URLs of every face these jobs matched, to find those jobs in one query."""
    urls = []
    for job in jobs:
        for entry in map(_mapping, _list(_mapping(job.job_output.get("facematch")).get("matches"))):
            urls += [str(m.get("image_url")) for m in map(_mapping, _list(entry.get("matches")))
                     if isinstance(m.get("image_url"), str)]
    return urls
