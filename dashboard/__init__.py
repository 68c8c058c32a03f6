"""The dashboard: a page and its JSON API, served by the Functions app itself (``dashboard_blueprint``)."""

from dashboard.blueprint import dashboard_blueprint

__all__ = ["dashboard_blueprint"]
