"""Remove faces from job outputs: the face's own entries, and every match that names it.

A forgotten face leaves ``{"forgotten": true}`` where its entry was in facedetection, faceprint and facematch
(and ``null`` in facecrop's ``facesUrls``), so the positions of the other faces, which the dashboard pairs
with their crops, stay as they were; a match naming a forgotten face in another face's list is dropped.
Pure functions over decoded JSON: the stores read, call these, and write back only what changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FACE_OUTPUTS", "FORGOTTEN", "Scrubbed", "face_ids_of", "match_ids_of", "scrub_job_output"]

FACE_OUTPUTS = ("facedetection", "faceprint", "facematch", "facecrop")
"""The classifier outputs that hold faces or mention them."""
FORGOTTEN: dict[str, Any] = {"forgotten": True}


@dataclass
class Scrubbed:
    """A job output with the faces removed; ``crops`` are the face crop URLs it no longer lists."""

    output: dict[str, Any]
    changed: bool = False
    faces: int = 0
    mentions: int = 0
    crops: list[str] = field(default_factory=list)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def face_ids_of(job_output: Mapping[str, Any]) -> set[str]:
    """The ids of the job's own faces, as facedetection, faceprint and facematch named them."""
    found: set[str] = set()
    for name, key in (("facedetection", "faces"), ("faceprint", "faces"), ("facematch", "matches")):
        for entry in _list(_mapping(job_output.get(name)).get(key)):
            face_id = _mapping(entry).get("faceId")
            if isinstance(face_id, str) and face_id:
                found.add(face_id)
    return found


def match_ids_of(facematch: Any) -> set[str]:
    """Every face id a facematch output names: its own faces and the faces they matched."""
    found: set[str] = set()
    for entry in _list(_mapping(facematch).get("matches")):
        entry = _mapping(entry)
        if isinstance(entry.get("faceId"), str):
            found.add(entry["faceId"])
        found.update(m["id"] for m in map(_mapping, _list(entry.get("matches"))) if isinstance(m.get("id"), str))
    return found


def scrub_job_output(job_output: Mapping[str, Any], faces: Collection[str]) -> Scrubbed:
    """``job_output`` (classifier name → output) without the ``faces`` and without matches naming them."""
    result = Scrubbed(output=dict(job_output))
    positions: set[int] = set()
    for name, key in (("facedetection", "faces"), ("faceprint", "faces"), ("facematch", "matches")):
        output = job_output.get(name)
        if not isinstance(output, Mapping) or not isinstance(output.get(key), list):
            continue
        entries = []
        for index, entry in enumerate(output[key]):
            face_id = _mapping(entry).get("faceId")
            if isinstance(face_id, str) and face_id in faces:
                entries.append(dict(FORGOTTEN))
                positions.add(index)
                result.faces += name == "faceprint"
                continue
            if name == "facematch" and isinstance(_mapping(entry).get("matches"), list):
                kept = [m for m in entry["matches"] if _mapping(m).get("id") not in faces]
                if len(kept) != len(entry["matches"]):
                    result.mentions += len(entry["matches"]) - len(kept)
                    entry = {**entry, "matches": kept}
            entries.append(entry)
        if entries != output[key]:
            result.output[name] = {**output, key: entries}
            result.changed = True
    crop = job_output.get("facecrop")
    if positions and isinstance(crop, Mapping) and isinstance(crop.get("facesUrls"), list):
        urls = list(crop["facesUrls"])
        for index in sorted(positions):
            if index < len(urls) and urls[index] is not None:
                if isinstance(urls[index], str):
                    result.crops.append(urls[index])
                urls[index] = None
        result.output["facecrop"] = {**crop, "facesUrls": urls}
        result.changed = True
    return result
