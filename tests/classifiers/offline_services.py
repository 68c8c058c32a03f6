"""Services for build() tests that never touch storage (the storage clients connect lazily)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.dependencies import Dependencies
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.storage import Storage


def services_with(**backends: Any) -> Services:
    """Default settings with these per-classifier backend overrides, e.g. ``ocr="azure"``."""
    settings = replace(Settings.from_env({}), backends=backends)
    return Services(settings=settings, storage=Storage(settings.storage_connection_string),
                    dependencies=Dependencies.load())
