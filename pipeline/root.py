"""The composition root: what one worker process shares, built once, on first use.

The settings are read here (``Settings.from_env()``, once), and from them one ``Services``: one
``Storage``, one SQL ``Database``, one dependency graph and one ``ModelCache``. ``function_app.py``
makes one ``Root`` and hands it to the step runner, the dashboard and the HTTP API. Importing the
app does no I/O: the settings are read and the clients built at the first message or request.
"""

from __future__ import annotations

from pipeline.dependencies import Dependencies
from pipeline.lazy import Lazy
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["Root"]


class Root:
    """One worker's settings and services; ``settings`` given (tests, the CLI) or read from the environment."""

    def __init__(self, *, settings: Settings | None = None, dependencies: Dependencies | None = None) -> None:
        self.dependencies = dependencies or Dependencies.load()
        """The classifier graph of ``dependencies.json``, read at once: the HTTP API is wired from it."""
        self._settings = Lazy(lambda: settings or Settings.from_env())
        self._services = Lazy(lambda: Services.from_settings(self.settings, dependencies=self.dependencies))

    @property
    def settings(self) -> Settings:
        return self._settings.get()

    @property
    def services(self) -> Services:
        return self._services.get()
