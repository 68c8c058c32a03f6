"""Compare the app settings set in Bicep with the settings the code reads and the runtime's own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from infra.check.bicep import BicepFile, Problem, walk_resources

__all__ = [
    "NOT_DEPLOYED",
    "RUNTIME_SETTINGS",
    "RUNTIME_SETTING_PREFIXES",
    "app_settings_in",
    "check_app_settings",
    "code_settings",
]

# Settings that belong to the Functions host and platform, not to pipeline/settings.py.
RUNTIME_SETTINGS: frozenset[str] = frozenset({
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AzureWebJobsFeatureFlags",
    "AzureWebJobsSecretStorageType",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "PYTHON_ENABLE_WORKER_EXTENSIONS",
    "PYTHON_THREADPOOL_THREAD_COUNT",
})
# Identity-based storage settings of the runtime (AzureWebJobsStorage__accountName is also the code's).
RUNTIME_SETTING_PREFIXES: tuple[str, ...] = ("AzureWebJobsStorage__", "WEBSITE_")

# Settings the code reads that a deployment deliberately leaves unset, and why.
NOT_DEPLOYED: Mapping[str, str] = {
    "AzureWebJobsStorage": "the app reaches storage with its managed identity (AzureWebJobsStorage__accountName); "
    "a connection string would put a storage key in the app settings",
}


def code_settings() -> frozenset[str]:
    """The settings pipeline/settings.py reads, without those that only make sense on a laptop."""
    from pipeline.settings import SETTINGS

    return frozenset(setting.name for setting in SETTINGS if not setting.local_only)


def _is_runtime(name: str, runtime: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    return name in runtime or name.startswith(prefixes)


def app_settings_in(files: Iterable[BicepFile]) -> dict[str, Path]:
    """Every app setting name set in Bicep (sites/config 'appsettings' or siteConfig.appSettings)."""
    found: dict[str, Path] = {}
    for bicep, _symbol, kind, body in walk_resources(files):
        if kind == "Microsoft.Web/sites/config" and body.get("name") == "appsettings":
            properties = body.get("properties")
            if isinstance(properties, Mapping):
                for name in properties:
                    found.setdefault(str(name), bicep.path)
        elif kind == "Microsoft.Web/sites":
            site_config = (body.get("properties") or {}).get("siteConfig") or {}
            for entry in site_config.get("appSettings") or []:
                if isinstance(entry, Mapping) and "name" in entry:
                    found.setdefault(str(entry["name"]), bicep.path)
    return found


def check_app_settings(
    files: Iterable[BicepFile],
    *,
    code: frozenset[str] | None = None,
    runtime: frozenset[str] = RUNTIME_SETTINGS,
    runtime_prefixes: tuple[str, ...] = RUNTIME_SETTING_PREFIXES,
    not_deployed: Mapping[str, str] = NOT_DEPLOYED,
    root: Path | None = None,
) -> list[Problem]:
    """No drift either way: each code setting is set in Bicep, each Bicep setting is read by someone."""
    files = list(files)
    code = code_settings() if code is None else code
    in_bicep = app_settings_in(files)
    where = "infra (Bicep app settings)"
    if not in_bicep:
        return [Problem(where, "no app settings found: expected a Microsoft.Web/sites/config 'appsettings' resource")]

    def label(path: Path) -> str:
        try:
            return str(path.relative_to(root)) if root else str(path)
        except ValueError:
            return str(path)

    problems: list[Problem] = []
    for name in sorted(code - in_bicep.keys() - not_deployed.keys()):
        problems.append(Problem(
            where,
            f"setting {name} is read by the code (pipeline/settings.py SETTINGS) but no Bicep file sets it: "
            "add it to the app settings (infra/modules/appsettings.bicep)",
        ))
    for name in sorted(in_bicep.keys() & not_deployed.keys()):
        problems.append(Problem(
            label(in_bicep[name]), f"app setting {name} should not be deployed: {not_deployed[name]}",
        ))
    for name in sorted(in_bicep.keys() - code):
        if _is_runtime(name, runtime, runtime_prefixes) or name in not_deployed:
            continue
        problems.append(Problem(
            label(in_bicep[name]),
            f"app setting {name} is set in Bicep but neither the code (pipeline/settings.py SETTINGS) "
            "nor the Functions runtime reads it",
        ))
    return problems
