"""What a classifier's ``build()`` gets: the settings, the storage account, the dependency graph, the SQL
database and the worker's local models.

Built once per worker process by the composition root (``pipeline.root``) and passed in; tests and the
CLI build their own with ``Services.from_settings``.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING

from classifiers.backends.local.models import ModelCache
from pipeline.dependencies import Dependencies
from pipeline.lazy import Lazy
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.storage import Storage

if TYPE_CHECKING:
    from classifiers.backends.face_index import FaceIndexBackend

__all__ = ["Services"]


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    storage: Storage
    dependencies: Dependencies
    models: ModelCache = field(default_factory=ModelCache)
    """The worker's local models, each loaded once and shared by the classifiers that use it."""
    sql: InitVar[Database | None] = None
    database: Database = field(init=False)
    """The worker's SQL database (``pipeline_output``): ``sql``, else the one the settings name. It connects
    at its first use and is shared by the worker's threads."""

    _face_index: Lazy[FaceIndexBackend] = field(init=False, repr=False, compare=False)

    def __post_init__(self, sql: Database | None) -> None:
        object.__setattr__(self, "database", sql or Database.from_settings(self.settings))
        object.__setattr__(self, "_face_index", Lazy(self._build_face_index))

    @property
    def face_index(self) -> FaceIndexBackend:
        """The worker's face index (``table`` or ``postgresql``), built at its first use and shared by facematch,
        the People API and erasure, so a table index is held in memory once per worker."""
        return self._face_index.get()

    def _build_face_index(self) -> FaceIndexBackend:
        from classifiers.backends import factory  # the factory imports the backends: not at import time

        return factory.face_index(settings=self.settings, storage=self.storage)

    @classmethod
    def from_settings(cls, settings: Settings, *, dependencies: Dependencies | None = None) -> Services:
        return cls(
            settings=settings,
            storage=Storage.from_settings(settings),
            dependencies=dependencies or Dependencies.load(),
            models=ModelCache(threads=settings.model_threads),
        )
