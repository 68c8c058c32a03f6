"""Shared fixtures: one real Azurite per test session (free ports, in memory)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from pipeline.dependencies import Dependencies
from pipeline.host.azurite import Azurite, start_azurite
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.storage import Storage


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    emulator = start_azurite()
    # Worker processes and code that reads the settings from the environment find it too.
    os.environ["AzureWebJobsStorage"] = emulator.connection_string
    yield emulator
    emulator.stop()


@pytest.fixture
def settings(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings against the session's Azurite, local backends, a fresh data folder."""
    return replace(
        Settings.from_env({}),
        storage_connection_string=azurite.connection_string,
        data_dir=tmp_path_factory.mktemp("data"),
        allow_local_paths=True,
    )


@pytest.fixture
def services(settings: Settings) -> Services:
    return Services(settings=settings, storage=Storage(settings.storage_connection_string),
                    dependencies=Dependencies.load())


@pytest.fixture
def unique() -> str:
    """A short unique suffix for queue, table and batch names, so tests never share state."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def pgvector_admin() -> Iterator[str]:
    """One PostgreSQL with pgvector per test session: the connection string of its ``postgres`` database."""
    from tests.support.pgvector_server import pgvector_server

    with pgvector_server() as uri:
        yield uri


@pytest.fixture
def pgvector(pgvector_admin: str) -> str:
    """A fresh, empty database on the session's PostgreSQL with pgvector."""
    from tests.support.pgvector_server import new_database

    return new_database(pgvector_admin)
