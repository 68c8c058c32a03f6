"""Persons for users: find one by name or id, describe one as JSON, say when persons are not available.

Shared by ``imaginem people`` / ``imaginem results --person`` and the dashboard's ``/api/people`` routes;
the persons themselves live in the face index (``classifiers.backends.face_index``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from classifiers.backends.face_index import FaceIndexBackend, IndexedFace, Person
from pipeline.settings import Settings

__all__ = ["AZURE_FACE_NOTE", "MAX_NAME", "UnknownPersonError", "azure_face_note", "clean_name", "face_dict",
           "find_person", "merge_persons", "near_names", "person_dict"]

MAX_NAME = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
AZURE_FACE_NOTE = ("facematch uses the Azure Face service (FACE_ENDPOINT is set), whose face lists keep faces but "
                   "no persons: persons need a local face index (table or postgresql). Set FACEPRINT_BACKEND=local "
                   "and FACEMATCH_BACKEND=local to group photos into persons.")


class UnknownPersonError(LookupError):
    """No person has that name or id; ``near`` lists the names that come close."""

    def __init__(self, wanted: str, near: list[str]) -> None:
        hint = f"; near: {', '.join(near)}" if near else ""
        super().__init__(f"no person named or numbered {wanted!r}{hint}")
        self.near = near


def azure_face_note(settings: Settings) -> str | None:
    """The plain words for a user when facematch runs on the Azure Face service, else None."""
    return AZURE_FACE_NOTE if settings.backend_for("facematch") == "azure" else None


def merge_persons(index: FaceIndexBackend, wanted: list[str], *, into: str) -> list[str]:
    """Merge the persons ``wanted`` names (names or ids) into ``into``; returns the ids merged. A person named
    twice, or the one merged into, counts once: merging a person into herself is a ``ValueError``, not a no-op
    that reports success."""
    target = find_person(index, into)
    merged = list(dict.fromkeys(p for p in (find_person(index, w) for w in wanted) if p != target))
    if not merged:
        raise ValueError(f"nothing to merge: every person given is {target} already")
    index.merge(merged, into=target)
    return merged


def find_person(index: FaceIndexBackend, wanted: str) -> str:
    """The current person id for a name (exact, then case-insensitive) or a person id; raises
    ``UnknownPersonError`` with the near names otherwise."""
    names = index.names()
    if wanted in names:
        return names[wanted]
    folded = {name.casefold(): person for name, person in names.items()}
    if wanted.casefold() in folded:
        return folded[wanted.casefold()]
    current = index.resolve(wanted)
    if current is not None:
        return current
    raise UnknownPersonError(wanted, near_names(wanted, names))


def near_names(wanted: str, names: Iterable[str], most: int = 5) -> list[str]:
    """Names like ``wanted``, closest first: the whole name or one of its words (case aside)."""
    folded = wanted.casefold()

    def likeness(name: str) -> float:
        parts = [name.casefold(), *name.casefold().split()]
        return max(difflib.SequenceMatcher(None, folded, part).ratio() for part in parts)

    scored = sorted(((likeness(n), n) for n in names), key=lambda s: (-s[0], s[1]))
    return [name for score, name in scored if score >= 0.6][:most]


def clean_name(name: object) -> str | None:
    """A name as given, trimmed; None clears it. Raises ValueError for a value that is not a short text."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise ValueError("a name is a text")
    name = " ".join(_CONTROL.sub("", name).split())
    if len(name) > MAX_NAME:
        raise ValueError(f"a name has at most {MAX_NAME} characters")
    return name or None


def face_dict(face: IndexedFace) -> dict[str, Any]:
    left, top, width, height = face.face_rectangle
    return {"face_id": face.face_id, "batch_id": face.batch_id, "job_id": face.job_id, "image_url": face.image_url,
            "face_rectangle": {"left": left, "top": top, "width": width, "height": height},
            "person_id": face.person_id, "pinned": face.pinned}


def person_dict(person: Person) -> dict[str, Any]:
    return {"id": person.person_id, "name": person.name or "", "faces": person.faces, "photos": person.photos,
            "hidden": person.hidden, "best_face": person.best_face}
