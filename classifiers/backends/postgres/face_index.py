"""The ``postgresql`` face index: faces and persons in one PostgreSQL database, searched by pgvector.

No worker holds the prints: a search is one ``ORDER BY print <-> q LIMIT n`` per face on the HNSW
index, and a cold worker needs one connection. ``add_and_search`` runs in one transaction under a
transaction-scoped advisory lock, so matchers take turns: the search, the person assignment and the
insert of one job happen before the next job's search, and two jobs at the same moment never miss each
other. Vectors travel as pgvector's text form (``'[0.1,…]'::vector``), so no extra Python package is needed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from classifiers.backends.face_index import (
    IndexedFace,
    JobKey,
    MatchedFace,
    NewFace,
    Person,
    PersonPhoto,
    SearchHit,
    person_for_face,
)
from classifiers.backends.face_persons import assign_persons
from classifiers.backends.postgres.connect import ConnectionPool, EntraPassword, TokenCredential, needs_entra_token
from classifiers.backends.postgres.person_counts import recount
from classifiers.backends.postgres.schema import APART, FACES, MATCH_LOCK, PERSONS, create_schema
from pipeline.errors import RetryableError

__all__ = ["PostgresFaceIndex", "vector_text"]

_EF_SEARCH = 100  # HNSW candidate list per search: recall ≥ 0.99 for k = 20 (bench/face_index.py)
_FACE_COLUMNS = "f.face_id, f.batch_id, f.job_id, f.image_url, f.rect_left, f.rect_top, f.rect_width, " \
                "f.rect_height, f.person_id, f.pinned"

_log = logging.getLogger(__name__)


def vector_text(vector: npt.NDArray[np.float32]) -> str:
    """pgvector's text form; repr of each float32 (as a double) reads back as the same float32."""
    return "[" + ",".join(repr(v) for v in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def _face(row: Sequence[Any]) -> IndexedFace:
    face_id, batch_id, job_id, image_url, left, top, width, height, person_id, pinned = row[:10]
    return IndexedFace(face_id=face_id, batch_id=batch_id, job_id=job_id, image_url=image_url,
                       face_rectangle=(left, top, width, height), person_id=person_id, pinned=bool(pinned))


class PostgresFaceIndex:
    """The face index in PostgreSQL + pgvector. Thread-safe; many processes may share one database."""

    kind = "postgresql"

    def __init__(self, *, pool: ConnectionPool) -> None:
        self._pool = pool
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @classmethod
    def connect(cls, conninfo: str, *, credential: TokenCredential | None = None) -> PostgresFaceIndex:
        """The index at ``conninfo`` (libpq URI or key=value); an Entra token as the password for an Azure
        host named without one (``credential``: DefaultAzureCredential unless given)."""
        password = None
        if needs_entra_token(conninfo):
            if credential is None:
                from azure.identity import DefaultAzureCredential

                password = EntraPassword(credential=DefaultAzureCredential())
            else:
                password = EntraPassword(credential=credential)
        return cls(pool=ConnectionPool(conninfo=conninfo, password=password))

    def close(self) -> None:
        self._pool.close()

    def _ready(self, conn: psycopg.Connection[Any]) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if not self._schema_ready:
                create_schema(conn)
                self._schema_ready = True

    # --- facematch ---------------------------------------------------------------------------------

    def add_and_search(
        self, job: JobKey, faces: Sequence[NewFace], *, threshold: float, limit: int
    ) -> list[MatchedFace]:
        if not faces:
            return []
        try:
            with self._pool.connection() as conn:
                self._ready(conn)
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MATCH_LOCK,))
                    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(_EF_SEARCH, limit)),))
                    return self._add_and_search(conn, job, faces, threshold, limit)
        except psycopg.OperationalError as e:
            raise RetryableError(f"face index (PostgreSQL): {e}") from e

    def _add_and_search(self, conn: psycopg.Connection[Any], job: JobKey, faces: Sequence[NewFace],
                        threshold: float, limit: int) -> list[MatchedFace]:
        stored = dict(conn.execute(f"SELECT face_id, person_id FROM {FACES} WHERE batch_id = %s AND job_id = %s",
                                   (job.batch_id, job.job_id)).fetchall())
        texts = [vector_text(face.print) for face in faces]
        hits = [self._search(conn, text, threshold, limit, job, len(stored)) for text in texts]
        if stored:  # a redelivery: its faces were stored with their persons in one transaction
            return [MatchedFace(face_id=f.face_id, person_id=stored.get(f.face_id, person_for_face(f.face_id)),
                                hits=h) for f, h in zip(faces, hits, strict=True)]
        assignment = assign_persons(
            [[(hit.distance, hit.face.person_id) for hit in face_hits] for face_hits in hits],
            new_person=lambda i: person_for_face(faces[i].face_id),
            seen_together=lambda a, b: self._seen_together(conn, a, b),
            kept_apart=lambda a, b: _kept_apart(conn, a, b),
        )
        with conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {PERSONS} (person_id) VALUES (%s) ON CONFLICT DO NOTHING",
                               [(p,) for p in assignment.new_persons])
            for merged, into in assignment.merges:
                self._move_person(conn, merged, into)
            cursor.executemany(
                f"INSERT INTO {FACES} (face_id, batch_id, job_id, image_url, rect_left, rect_top, rect_width, "
                "rect_height, print, person_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::vector, %s) "
                "ON CONFLICT (face_id) DO NOTHING",
                [(f.face_id, job.batch_id, job.job_id, job.image_url, *f.face_rectangle, text, person)
                 for f, text, person in zip(faces, texts, assignment.persons, strict=True)])
        recount(conn, {*assignment.persons, *(p for pair in assignment.merges for p in pair)})
        if assignment.merges:
            _log.info("face index: %s merged persons %s", job.job_id, assignment.merges)
        return [MatchedFace(face_id=f.face_id, person_id=p, hits=h)
                for f, p, h in zip(faces, assignment.persons, hits, strict=True)]

    def _search(self, conn: psycopg.Connection[Any], text: str, threshold: float, limit: int, job: JobKey,
                own: int) -> list[SearchHit]:
        rows = conn.execute(
            f"SELECT * FROM (SELECT {_FACE_COLUMNS}, f.print <-> %s::vector AS distance FROM {FACES} f "
            "ORDER BY f.print <-> %s::vector LIMIT %s) near WHERE distance <= %s",
            (text, text, limit + own, threshold)).fetchall()
        hits = [SearchHit(face=_face(row), distance=float(row[10])) for row in rows
                if not (row[1] == job.batch_id and row[2] == job.job_id)]
        hits.sort(key=lambda h: (round(h.distance, 6), h.face.face_id))
        return hits[:limit]

    def _seen_together(self, conn: psycopg.Connection[Any], a: str, b: str) -> bool:
        row = conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM {FACES} x JOIN {FACES} y ON x.batch_id = y.batch_id "
            "AND x.job_id = y.job_id WHERE x.person_id = %s AND y.person_id = %s)", (a, b)).fetchone()
        return bool(row and row[0])

    def _move_person(self, conn: psycopg.Connection[Any], merged: str, into: str) -> None:
        conn.execute(f"UPDATE {FACES} SET person_id = %s WHERE person_id = %s", (into, merged))
        conn.execute(f"UPDATE {PERSONS} SET merged_into = %s WHERE person_id = %s OR merged_into = %s",
                     (into, merged, merged))
        # A name follows the person into a nameless one; two names keep the one it joined (cleared first:
        # names are unique).
        row = conn.execute(f"UPDATE {PERSONS} n SET name = NULL FROM {PERSONS} o WHERE n.person_id = o.person_id "
                           "AND n.person_id = %s RETURNING o.name", (merged,)).fetchone()
        if row is not None and row[0] is not None:
            conn.execute(f"UPDATE {PERSONS} SET name = %s WHERE person_id = %s AND name IS NULL", (row[0], into))

    # --- reads -------------------------------------------------------------------------------------

    def person_of(self, face_id: str) -> str | None:
        with self._pool.connection() as conn:
            self._ready(conn)
            row = conn.execute(f"SELECT person_id FROM {FACES} WHERE face_id = %s", (face_id,)).fetchone()
        return None if row is None else str(row[0])

    def resolve(self, person_id: str) -> str | None:
        with self._pool.connection() as conn:
            self._ready(conn)
            return _resolve(conn, person_id)

    def faces_of(self, person_id: str) -> list[IndexedFace]:
        with self._pool.connection() as conn:
            self._ready(conn)
            current = _resolve(conn, person_id)
            if current is None:
                return []
            rows = conn.execute(f"SELECT {_FACE_COLUMNS} FROM {FACES} f WHERE f.person_id = %s "
                                "ORDER BY f.created, f.face_id", (current,)).fetchall()
        return [_face(row) for row in rows]

    def persons(self, *, offset: int = 0, limit: int = 100, include_hidden: bool = False,
                name: str | None = None) -> list[Person]:
        # The counters in the persons' rows: the first page is a walk down the listing index, stopped at its end.
        with self._pool.connection() as conn:
            self._ready(conn)
            rows = conn.execute(
                f"SELECT p.person_id, p.name, p.hidden, p.faces, p.photos, p.best_face FROM {PERSONS} p "
                "WHERE p.merged_into IS NULL AND p.faces > 0 AND (%s OR NOT p.hidden) "
                # strpos, not LIKE: the user's text has no wildcards to escape.
                "AND (%s::text IS NULL OR strpos(lower(p.name), lower(%s::text)) > 0) "
                "ORDER BY p.faces DESC, p.person_id OFFSET %s LIMIT %s",
                (include_hidden, name, name, offset, limit)).fetchall()
            best = {face.face_id: face for face in map(_face, conn.execute(
                f"SELECT {_FACE_COLUMNS} FROM {FACES} f WHERE f.face_id = ANY(%s)", ([r[5] for r in rows],)))}
        return [Person(person_id=r[0], name=r[1], hidden=r[2], faces=r[3], photos=r[4], best_face=r[5],
                       best=best.get(r[5])) for r in rows]

    def photos_of(self, person_id: str, *, offset: int = 0, limit: int = 50) -> list[PersonPhoto]:
        with self._pool.connection() as conn:
            self._ready(conn)
            current = _resolve(conn, person_id)
            if current is None:
                return []
            rows = conn.execute(
                f"WITH photos AS (SELECT batch_id, job_id, max(created) AS newest, max(face_id) AS last FROM {FACES} "
                "WHERE person_id = %s GROUP BY batch_id, job_id ORDER BY newest DESC, last DESC OFFSET %s LIMIT %s) "
                f"SELECT {_FACE_COLUMNS} FROM photos p JOIN {FACES} f ON f.batch_id = p.batch_id "
                "AND f.job_id = p.job_id WHERE f.person_id = %s ORDER BY p.newest DESC, p.last DESC, f.face_id",
                (current, offset, limit, current)).fetchall()
        photos: dict[tuple[str, str], list[IndexedFace]] = {}
        for face in map(_face, rows):
            photos.setdefault((face.batch_id, face.job_id), []).append(face)
        return [PersonPhoto(batch_id=b, job_id=j, image_url=faces[0].image_url, faces=faces)
                for (b, j), faces in photos.items()]

    def person(self, person_id: str) -> Person | None:
        with self._pool.connection() as conn:
            self._ready(conn)
            current = _resolve(conn, person_id)
            if current is None:
                return None
            row = conn.execute(f"SELECT name, hidden, faces, photos, best_face FROM {PERSONS} "
                               "WHERE person_id = %s AND faces > 0", (current,)).fetchone()
            if row is None:
                return None
            best = conn.execute(f"SELECT {_FACE_COLUMNS} FROM {FACES} f WHERE f.face_id = %s", (row[4],)).fetchone()
        return Person(person_id=current, name=row[0], hidden=row[1], faces=row[2], photos=row[3], best_face=row[4],
                      best=None if best is None else _face(best))

    def face(self, face_id: str) -> IndexedFace | None:
        with self._pool.connection() as conn:
            self._ready(conn)
            row = conn.execute(f"SELECT {_FACE_COLUMNS} FROM {FACES} f WHERE f.face_id = %s", (face_id,)).fetchone()
        return None if row is None else _face(row)

    def names(self) -> dict[str, str]:
        with self._pool.connection() as conn:
            self._ready(conn)
            rows = conn.execute(f"SELECT name, coalesce(merged_into, person_id) FROM {PERSONS} "
                                "WHERE name IS NOT NULL").fetchall()
        return {str(name): str(person) for name, person in rows}

    # --- person operations -------------------------------------------------------------------------

    def rename(self, person_id: str, name: str | None) -> None:
        name = (name or "").strip() or None
        try:
            with self._pool.connection() as conn:
                self._ready(conn)
                current = _existing(conn, person_id)
                conn.execute(f"UPDATE {PERSONS} SET name = %s WHERE person_id = %s", (name, current))
        except psycopg.errors.UniqueViolation:
            raise ValueError(f"another person is already named {name!r}") from None

    def merge(self, person_ids: Sequence[str], into: str) -> None:
        with self._pool.connection() as conn, conn.transaction():
            self._ready(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MATCH_LOCK,))
            target = _existing(conn, into)
            for person in person_ids:
                current = _existing(conn, person)
                if current != target:
                    self._move_person(conn, current, target)
                    recount(conn, (current, target))

    def split(self, face_id: str, to_person: str | None = None) -> str:
        with self._pool.connection() as conn, conn.transaction():
            self._ready(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MATCH_LOCK,))
            if to_person is None:
                target = str(uuid.uuid4())
                conn.execute(f"INSERT INTO {PERSONS} (person_id) VALUES (%s)", (target,))
            else:
                target = _existing(conn, to_person)
            row = conn.execute(f"SELECT person_id FROM {FACES} WHERE face_id = %s", (face_id,)).fetchone()
            if row is None:
                raise KeyError(f"no face {face_id!r} in the face index")
            if row[0] != target:
                conn.execute(f"UPDATE {FACES} SET person_id = %s, pinned = true WHERE face_id = %s",
                             (target, face_id))
                a, b = sorted((str(row[0]), target))
                conn.execute(f"INSERT INTO {APART} (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING", (a, b))
                recount(conn, (str(row[0]), target))
        return target

    def hide(self, person_id: str, hidden: bool = True) -> None:
        with self._pool.connection() as conn:
            self._ready(conn)
            current = _existing(conn, person_id)
            conn.execute(f"UPDATE {PERSONS} SET hidden = %s WHERE person_id = %s", (hidden, current))

    # --- forgetting: the faces, and the persons they leave without a face (names, merges, splits) ---------

    def forget_job(self, batch_id: str, job_id: str) -> int:
        return self._forget("batch_id = %s AND job_id = %s", (batch_id, job_id))

    def forget_batch(self, batch_id: str) -> int:
        return self._forget("batch_id = %s", (batch_id,))

    def forget_faces(self, face_ids: Collection[str]) -> int:
        return self._forget("face_id = ANY(%s)", (list(face_ids),)) if face_ids else 0

    def forget_person(self, person_id: str) -> int:
        with self._pool.connection() as conn, conn.transaction():
            self._ready(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MATCH_LOCK,))
            current = _resolve(conn, person_id)
            if current is None:
                return 0
            deleted = conn.execute(f"DELETE FROM {FACES} WHERE person_id = %s", (current,)).rowcount
            _drop_persons(conn, [current])
        return deleted

    def faces_before(self, moment: datetime) -> list[IndexedFace]:
        with self._pool.connection() as conn:
            self._ready(conn)
            rows = conn.execute(f"SELECT {_FACE_COLUMNS} FROM {FACES} f WHERE f.created < %s ORDER BY f.face_id",
                                (moment,)).fetchall()
        return [_face(row) for row in rows]

    def _forget(self, where: str, params: tuple[Any, ...]) -> int:
        with self._pool.connection() as conn, conn.transaction():
            self._ready(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MATCH_LOCK,))
            persons = [str(row[0]) for row in conn.execute(
                f"DELETE FROM {FACES} WHERE {where} RETURNING person_id", params).fetchall()]
            if persons:
                left = conn.execute(f"SELECT p FROM unnest(%s::text[]) p WHERE NOT EXISTS "
                                    f"(SELECT 1 FROM {FACES} f WHERE f.person_id = p)",
                                    (sorted(set(persons)),)).fetchall()
                _drop_persons(conn, [str(row[0]) for row in left])
                recount(conn, set(persons) - {str(row[0]) for row in left})
        return len(persons)


def _drop_persons(conn: psycopg.Connection[Any], persons: list[str]) -> None:
    """Delete persons with no face left: their rows (names), the ids merged into them and their splits."""
    if not persons:
        return
    ids = [str(row[0]) for row in conn.execute(
        f"SELECT person_id FROM {PERSONS} WHERE person_id = ANY(%s) OR merged_into = ANY(%s)",
        (persons, persons)).fetchall()]
    conn.execute(f"DELETE FROM {APART} WHERE a = ANY(%s) OR b = ANY(%s)", (ids, ids))
    conn.execute(f"DELETE FROM {PERSONS} WHERE person_id = ANY(%s)", (ids,))


def _resolve(conn: psycopg.Connection[Any], person_id: str) -> str | None:
    row = conn.execute(f"SELECT coalesce(merged_into, person_id) FROM {PERSONS} WHERE person_id = %s",
                       (person_id,)).fetchone()
    return None if row is None else str(row[0])


def _kept_apart(conn: psycopg.Connection[Any], a: str, b: str) -> bool:
    """Whether a user split persons ``a`` and ``b`` (as they are now; merges followed one hop, as stored)."""
    row = conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM {APART} x JOIN {PERSONS} pa ON pa.person_id = x.a "
        f"JOIN {PERSONS} pb ON pb.person_id = x.b WHERE (coalesce(pa.merged_into, pa.person_id), "
        "coalesce(pb.merged_into, pb.person_id)) IN ((%s, %s), (%s, %s)))", (a, b, b, a)).fetchone()
    return bool(row and row[0])


def _existing(conn: psycopg.Connection[Any], person_id: str) -> str:
    current = _resolve(conn, person_id)
    if current is None:
        raise KeyError(f"no person {person_id!r} in the face index")
    return current
