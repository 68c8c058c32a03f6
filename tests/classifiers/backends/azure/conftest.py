"""Fixtures for the Azure backends: a loopback Cognitive Services stub and services pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from pipeline.dependencies import Dependencies
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.storage import Storage
from tests.classifiers.backends.azure.helpers import FAKE_STORAGE, azure_settings
from tests.classifiers.backends.azure.stub import CognitiveStub


@pytest.fixture
def stub() -> Iterator[CognitiveStub]:
    server = CognitiveStub()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def offline_services(stub: CognitiveStub) -> Services:
    """Azure keys pointing at the stub and a storage account that is never contacted."""
    settings = azure_settings(Settings.from_env({}), stub)
    return Services(settings=settings, storage=Storage(FAKE_STORAGE), dependencies=Dependencies.load())


@pytest.fixture
def azure_services(services: Services, stub: CognitiveStub) -> Services:
    """Azure keys pointing at the stub and the session's real Azurite."""
    return replace(services, settings=azure_settings(services.settings, stub))
