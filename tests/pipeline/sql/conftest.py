"""SQL engine fixtures: the same tests run on embedded SQLite, SQLite through its ODBC driver,
and a real PostgreSQL server (psqlODBC) that the session starts and removes.

Each test gets an empty database of its own: a new SQLite file, or a new PostgreSQL database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pyodbc
import pytest

from pipeline.settings import Settings
from pipeline.sql.connection import Database
from tests.support.pgserver import PostgresServer, start_postgres

ENGINES = ("sqlite-embedded", "sqlite-odbc", "postgresql")


@dataclass(frozen=True)
class Engine:
    """One engine under test: its name and settings that point to a fresh, empty database."""

    name: str
    settings: Settings

    def database(self) -> Database:
        return Database.from_settings(self.settings)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def create_pg_database(server: PostgresServer) -> str:
    """A new empty database on the session's server; its ODBC connection string."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = pyodbc.connect(server.odbc_connection_string(), autocommit=True, timeout=10)
    try:
        admin.execute(f"CREATE DATABASE {name}")  # name is made here: letters and hex digits only
    finally:
        admin.close()
    return server.odbc_connection_string().replace(f"Database={server.database};", f"Database={name};")


@pytest.fixture
def make_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Engine]:
    """Build an engine by name; each call gives a new empty database."""
    counter = iter(range(1000))

    def make(name: str) -> Engine:
        base = replace(Settings.from_env({}), data_dir=tmp_path / f"data{next(counter)}")
        match name:
            case "sqlite-embedded":
                return Engine(name, base)
            case "sqlite-odbc":
                path = base.data_dir / "odbc.db"
                path.parent.mkdir(parents=True)
                return Engine(name, replace(base, sql_connection_string=f"Driver={{SQLite3}};Database={path};"))
            case "postgresql":
                server: PostgresServer = request.getfixturevalue("postgres")
                return Engine(name, replace(base, sql_connection_string=create_pg_database(server)))
        raise ValueError(name)

    return make


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, make_engine: Callable[[str], Engine]) -> Engine:
    return make_engine(request.param)


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    db = engine.database()
    yield db
    db.close()

