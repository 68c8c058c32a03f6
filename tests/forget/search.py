"""Search every table, blob, queue message and SQL row of the account and database (and, with the
``postgresql`` face index, every row of its faces, persons and splits) for given strings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from pipeline.sql.connection import Cursor, Database
from pipeline.sql.dialect import Dialect
from pipeline.sql.schema import TABLES
from pipeline.storage import Storage

_BLOB_BYTES = 16 * 1024 * 1024


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return str(value)


def find_everywhere(storage: Storage, database: Database, needles: Iterable[str], *,
                    face_index: str = "") -> list[str]:
    """Where any needle occurs: ``table/PK/RK``, ``container/blob``, ``queue#id``, ``sql table``, ``pg table``;
    ``face_index``: the PostgreSQL face index's connection string, when that backend is in use."""
    wanted = [n for n in set(needles) if n]
    found: list[str] = []

    def check(where: str, *values: Any) -> None:
        for value in values:
            text = _text(value)
            hits = [n for n in wanted if n in text]
            if hits:
                found.append(f"{where}: {sorted(hits)[:3]}")
                return

    for table in storage.table_service.list_tables():
        client = storage.table_service.get_table_client(table.name)
        for entity in client.list_entities():
            check(f"table {table.name}/{entity['PartitionKey']}/{entity['RowKey']}", *entity.keys(),
                  *entity.values())
    for container in storage.blob_service.list_containers():
        blobs = storage.blob_service.get_container_client(container.name)
        for blob in blobs.list_blobs():
            check(f"blob {container.name}/{blob.name}", blob.name)
            if blob.size <= _BLOB_BYTES:
                try:
                    check(f"blob {container.name}/{blob.name}", blobs.download_blob(blob.name).readall())
                except ResourceNotFoundError:
                    pass
    for queue in storage.queue_service.list_queues():
        queued = storage.queue_service.get_queue_client(queue.name)
        received = list(queued.receive_messages(max_messages=32, visibility_timeout=5))
        held = []
        while received:
            for message in received:
                check(f"queue {queue.name}#{message.id}", message.content)
                held.append(message)
            received = list(queued.receive_messages(max_messages=32, visibility_timeout=5))
        for message in held:
            queued.update_message(message, visibility_timeout=0)

    def rows(cursor: Cursor, dialect: Dialect) -> None:
        for table in TABLES:
            cursor.execute(f"SELECT * FROM {dialect.table(table.name)}")
            for row in cursor.fetchall():
                check(f"sql {table.name}", *row)

    database.run(rows)
    if face_index:
        import psycopg

        from classifiers.backends.postgres.schema import APART, FACES, PERSONS

        with psycopg.connect(face_index) as conn:
            for name in (FACES, PERSONS, APART):
                for row in conn.execute(f"SELECT * FROM {name}").fetchall():
                    check(f"pg {name}", *row)
    return found
