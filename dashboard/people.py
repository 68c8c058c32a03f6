"""People: faces grouped by who they are. The facematch links between faces form the groups
(connected components: A matched B and B matched C puts A, B and C together)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.store import FinishedJob

__all__ = ["Face", "Person", "faces_of", "group_people"]


@dataclass(frozen=True)
class Face:
    face_id: str
    batch_id: str
    job_id: str
    crop_url: str | None
    matched: tuple[str, ...] = ()
    """Face ids this face was matched to when its job ran."""


@dataclass
class Person:
    id: str
    """The smallest face id of the group: stable while the group only grows."""
    faces: list[Face] = field(default_factory=list)

    @property
    def jobs(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys((f.batch_id, f.job_id) for f in self.faces))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def faces_of(job: FinishedJob) -> list[Face]:
    """The faces of a finished job, as facematch listed them, with facecrop's crop of each."""
    crops = _list(_mapping(job.job_output.get("facecrop")).get("facesUrls"))
    faces = []
    for index, entry in enumerate(_list(_mapping(job.job_output.get("facematch")).get("matches"))):
        entry = _mapping(entry)
        face_id = entry.get("faceId")
        if not isinstance(face_id, str) or not face_id:
            continue
        matched = tuple(str(m["id"]) for m in map(_mapping, _list(entry.get("matches")))
                        if isinstance(m.get("id"), str))
        crop = crops[index] if index < len(crops) and isinstance(crops[index], str) else None
        faces.append(Face(face_id, job.batch_id, job.id, crop, matched))
    return faces


def group_people(jobs: Iterable[FinishedJob], *, keep: Callable[[Person], bool] = lambda p: True) -> list[Person]:
    """Groups of faces, most jobs first; a match to a face of an unknown job joins nothing."""
    faces = {face.face_id: face for job in jobs for face in faces_of(job)}
    parent = {face_id: face_id for face_id in faces}

    def root(face_id: str) -> str:
        while parent[face_id] != face_id:
            parent[face_id] = parent[parent[face_id]]
            face_id = parent[face_id]
        return face_id

    for face in faces.values():
        for other in face.matched:
            if other in parent:
                a, b = sorted((root(face.face_id), root(other)))
                parent[b] = a
    groups: dict[str, list[Face]] = {}
    for face_id in sorted(faces):
        groups.setdefault(root(face_id), []).append(faces[face_id])
    people = [Person(id=min(f.face_id for f in members), faces=members) for members in groups.values()]
    people = [p for p in people if keep(p)]
    people.sort(key=lambda p: (-len(p.jobs), -len(p.faces), p.id))
    return people
