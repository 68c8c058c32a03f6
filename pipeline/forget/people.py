"""A person's faces where the face index keeps no person ids: the group of faces facematch linked together.

As the People page groups them (``dashboard.people``): faces A and B are one person when facematch matched
one to the other, and so on through the links. The page names a person by the smallest face id of her
group among the jobs it shows; any face id of the group names her here, since this reads every finished
job's facematch output in SQL (one keyset-paged scan) and her group may be larger than the page's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

from pipeline.forget.face_index import PersonFaces
from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.schema import OUTPUT

__all__ = ["LinkedPeople"]

_PAGE = 500


class LinkedPeople:
    def __init__(self, *, database: Database) -> None:
        self._database = database

    def __call__(self, person_id: str) -> PersonFaces:
        owner: dict[str, tuple[str, str]] = {}
        links: dict[str, set[str]] = {}
        for batch_id, job_id, output in self._outputs():
            for entry in _list(_mapping(output.get("facematch")).get("matches")):
                face = _mapping(entry).get("faceId")
                if not isinstance(face, str):
                    continue
                owner[face] = (batch_id, job_id)
                for match in _list(_mapping(entry).get("matches")):
                    other = _mapping(match).get("id")
                    if isinstance(other, str):
                        links.setdefault(face, set()).add(other)
                        links.setdefault(other, set()).add(face)
        if person_id not in owner:
            return PersonFaces()
        group, todo = {person_id}, [person_id]
        while todo:
            for other in links.get(todo.pop(), ()):
                if other in owner and other not in group:
                    group.add(other)
                    todo.append(other)
        return PersonFaces(frozenset(group), frozenset(owner[f] for f in group))

    def _outputs(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        after = ("", "")
        while True:
            page = self._database.run(partial(_page, after=after))
            if not page:
                return
            after = page[-1][:2]
            for batch_id, job_id, text in page:
                if "facematch" not in text:
                    continue
                try:
                    output = json.loads(text)
                except ValueError:
                    continue
                yield batch_id, job_id, output if isinstance(output, dict) else {}


def _page(cursor: Cursor, dialect: Dialect, after: tuple[str, str]) -> list[tuple[str, str, str]]:
    job_id = dialect.quote("id")
    cursor.execute(f"SELECT {dialect.top(_PAGE)}batch_id, {job_id}, job_output FROM {dialect.table(OUTPUT.name)} "
                   f"WHERE batch_id > ? OR (batch_id = ? AND {job_id} > ?) ORDER BY batch_id, {job_id}"
                   f"{dialect.limit(_PAGE)}", [after[0], after[0], after[1]])
    return [(str(b), str(j), o if isinstance(o, str) else json.dumps(o)) for b, j, o in cursor.fetchall()]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
