"""The ``table`` face index has fixed names (``persistedfaces`` + the ``faceindex`` container) on the session's
one Azurite; tests that build it with ``factory.face_index`` empty it first so persons of other tests stay out."""

from __future__ import annotations

from classifiers.backends.local.face_snapshot import DEFAULT_CONTAINER
from classifiers.backends.local.face_store import DEFAULT_TABLE
from pipeline.storage import Storage

__all__ = ["empty_table_face_index"]


def empty_table_face_index(storage: Storage) -> None:
    table = storage.table(DEFAULT_TABLE)
    for entity in table.list_entities(select=["PartitionKey", "RowKey"]):
        table.delete_entity(entity["PartitionKey"], entity["RowKey"])
    container = storage.container(DEFAULT_CONTAINER)
    for blob in container.list_blobs():
        container.delete_blob(blob.name)
