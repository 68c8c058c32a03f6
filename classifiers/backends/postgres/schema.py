"""The face index tables in PostgreSQL, created idempotently at first use.

One table of faces (the print a pgvector ``vector(128)`` under an HNSW index for Euclidean distance),
one of persons and one of pairs of persons a user split apart; a merged person keeps its row with
``merged_into`` so its id stays resolvable. A person's row keeps its counters (faces, photos, cover face; see
``person_counts``) so the People page is one index scan of persons; a database made before them gets them
and is counted once, at first use.
Many workers may start at once: the DDL runs under an advisory lock, each statement ``IF NOT EXISTS``.
"""

from __future__ import annotations

from typing import Any

import psycopg

__all__ = ["APART", "FACES", "MATCH_LOCK", "PERSONS", "create_schema"]

FACES = "face_index_faces"
PERSONS = "face_index_persons"
APART = "face_index_apart"
_SCHEMA_LOCK = 0x1_F0CE_5C4E  # advisory lock keys: any fixed numbers of our own
MATCH_LOCK = 0x1_F0CE_3A7C

_DDL = (
    "CREATE EXTENSION IF NOT EXISTS vector",
    f"""CREATE TABLE IF NOT EXISTS {PERSONS} (
        person_id text PRIMARY KEY,
        name text UNIQUE,
        hidden boolean NOT NULL DEFAULT false,
        merged_into text REFERENCES {PERSONS} (person_id),
        created timestamptz NOT NULL DEFAULT now())""",
    f"""CREATE TABLE IF NOT EXISTS {FACES} (
        face_id text PRIMARY KEY,
        batch_id text NOT NULL,
        job_id text NOT NULL,
        image_url text NOT NULL,
        rect_left integer NOT NULL,
        rect_top integer NOT NULL,
        rect_width integer NOT NULL,
        rect_height integer NOT NULL,
        print vector(128) NOT NULL,
        person_id text NOT NULL REFERENCES {PERSONS} (person_id),
        created timestamptz NOT NULL DEFAULT now())""",
    # A face a user moved (split) is pinned; the pair of persons it left and joined is kept apart.
    f"ALTER TABLE {FACES} ADD COLUMN IF NOT EXISTS pinned boolean NOT NULL DEFAULT false",
    f"""CREATE TABLE IF NOT EXISTS {APART} (
        a text NOT NULL REFERENCES {PERSONS} (person_id),
        b text NOT NULL REFERENCES {PERSONS} (person_id),
        PRIMARY KEY (a, b))""",
    # A merge re-points the ids merged into a person (and the foreign key checks them): without this index
    # each merge read every person (about 0.3 s a job at 1M faces, bench/face_index.py).
    f"CREATE INDEX IF NOT EXISTS {PERSONS}_merged ON {PERSONS} (merged_into)",
    f"CREATE INDEX IF NOT EXISTS {FACES}_job ON {FACES} (batch_id, job_id)",
    f"CREATE INDEX IF NOT EXISTS {FACES}_person ON {FACES} (person_id)",
    # The People pages: a person's photos counted from the index alone.
    f"CREATE INDEX IF NOT EXISTS {FACES}_person_photo ON {FACES} (person_id, batch_id, job_id)",
    f"CREATE INDEX IF NOT EXISTS {FACES}_print ON {FACES} USING hnsw (print vector_l2_ops)",
)
_COUNTERS = (
    f"ALTER TABLE {PERSONS} ADD COLUMN IF NOT EXISTS faces integer NOT NULL DEFAULT 0",
    f"ALTER TABLE {PERSONS} ADD COLUMN IF NOT EXISTS photos integer NOT NULL DEFAULT 0",
    f"ALTER TABLE {PERSONS} ADD COLUMN IF NOT EXISTS best_face text",
    # The People page: current persons with a face, most faces first, read in order and stopped at the page's end.
    f"CREATE INDEX IF NOT EXISTS {PERSONS}_listing ON {PERSONS} (faces DESC, person_id) "
    "WHERE merged_into IS NULL AND faces > 0",
)


def create_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the extension, tables and indexes unless they exist (one worker at a time)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in _DDL:
            conn.execute(statement)
        counted = conn.execute("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
                               "current_schema() AND table_name = %s AND column_name = 'faces')",
                               (PERSONS,)).fetchone()
        for statement in _COUNTERS:
            conn.execute(statement)
        if not (counted and counted[0]):
            # Imported here: person_counts reads the table names from this module.
            from classifiers.backends.postgres.person_counts import recount_all

            recount_all(conn)
