"""Each person's counters in its own row: faces, photos and its cover face, so the People page reads persons only.

Recomputed for the persons a change touches, in the transaction that changes their faces (add, merge, split,
forget); a rename or hiding leaves them as they are. Counting a person is two scans of its slice of the
``(person_id, batch_id, job_id)`` index, and its cover one pass over its prints.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg

from classifiers.backends.postgres.schema import FACES, PERSONS

__all__ = ["TYPICAL", "recount", "recount_all"]

# A person's face to show: the one nearest the mean of its prints (a look-alike slip or an odd angle is
# never the cover). "+ 0" keeps the HNSW index out: with a WHERE it could return no row at all.
TYPICAL = (f"(SELECT b.face_id FROM {FACES} b WHERE b.person_id = {{person}} ORDER BY (b.print <-> "
           f"(SELECT avg(m.print) FROM {FACES} m WHERE m.person_id = {{person}})) + 0, b.face_id LIMIT 1)")

_RECOUNT = (
    f"UPDATE {PERSONS} p SET faces = c.faces, photos = c.photos, best_face = c.best FROM (SELECT q.id, "
    f"(SELECT count(*) FROM {FACES} f WHERE f.person_id = q.id) AS faces, "
    f"(SELECT count(*) FROM (SELECT DISTINCT batch_id, job_id FROM {FACES} f WHERE f.person_id = q.id) j) AS photos, "
    f"{TYPICAL.format(person='q.id')} AS best "
    "FROM unnest(%s::text[]) q(id)) c WHERE p.person_id = c.id")


def recount(conn: psycopg.Connection[Any], persons: Collection[str]) -> None:
    """Recompute the counters and cover of ``persons`` (ids that no longer exist are skipped)."""
    if persons:
        conn.execute(_RECOUNT, (sorted(set(persons)),))


def recount_all(conn: psycopg.Connection[Any]) -> None:
    """Recompute every person's counters: once, for a database made before persons kept them, or after a bulk load."""
    conn.execute(_RECOUNT.replace("unnest(%s::text[])", f"(SELECT person_id FROM {PERSONS})"))
