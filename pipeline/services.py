"""What a classifier's ``build()`` gets: the settings, the storage account and the dependency graph.

Built once where the app is wired (``function_app.py``, tests, the CLI) and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from classifiers.backends.local.models import ModelCache
from pipeline.dependencies import Dependencies
from pipeline.settings import Settings
from pipeline.storage import Storage

__all__ = ["Services"]


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    storage: Storage
    dependencies: Dependencies
    models: ModelCache = field(default_factory=ModelCache)
    """The worker's local models, each loaded once and shared by the classifiers that use it."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls(
            settings=settings,
            storage=Storage.from_settings(settings),
            dependencies=Dependencies.load(),
            models=ModelCache(threads=settings.model_threads),
        )
