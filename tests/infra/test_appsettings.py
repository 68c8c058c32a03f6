"""The app settings in Bicep are exactly the settings the code reads, plus the runtime's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.check import appsettings, check_app_settings, load_bicep_files
from infra.check.appsettings import app_settings_in, code_settings
from infra.check.bicep import parse_bicep, variable_value
from tests.infra.conftest import INFRA, REPO, edit

pytestmark = pytest.mark.infra

# The Functions host's and platform's settings: not in pipeline/settings.py, and allowed in Bicep.
RUNTIME_OWNED = frozenset({
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
RUNTIME_OWNED_PREFIXES = ("AzureWebJobsStorage__", "WEBSITE_")
# Read by the code, deliberately not deployed: the app uses its managed identity instead.
NOT_DEPLOYED = {"AzureWebJobsStorage"}


def test_bicep_sets_exactly_the_settings_the_code_reads() -> None:
    files, _ = load_bicep_files(INFRA)
    in_bicep = set(app_settings_in(files))
    code = set(code_settings())
    assert code - in_bicep == NOT_DEPLOYED
    extra = {n for n in in_bicep - code if n not in RUNTIME_OWNED and not n.startswith(RUNTIME_OWNED_PREFIXES)}
    assert extra == set()
    assert check_app_settings(files, runtime=RUNTIME_OWNED, runtime_prefixes=RUNTIME_OWNED_PREFIXES, root=REPO) == []


def test_the_command_line_uses_the_same_lists() -> None:
    assert appsettings.RUNTIME_SETTINGS == RUNTIME_OWNED
    assert appsettings.RUNTIME_SETTING_PREFIXES == RUNTIME_OWNED_PREFIXES
    assert set(appsettings.NOT_DEPLOYED) == NOT_DEPLOYED


def test_local_only_settings_are_not_deployed() -> None:
    files, _ = load_bicep_files(INFRA)
    assert {"IMAGINEM_DATA_DIR", "IMAGE_ALLOW_LOCAL_PATHS"}.isdisjoint(app_settings_in(files))


def test_identity_based_storage_replaces_the_connection_string() -> None:
    files, _ = load_bicep_files(INFRA)
    settings = app_settings_in(files)
    assert "AzureWebJobsStorage__accountName" in settings
    assert "AzureWebJobsStorage" not in settings


def test_a_setting_missing_from_bicep_is_reported(infra_copy: Path) -> None:
    edit(infra_copy / "modules" / "appsettings.bicep", "    OCR_MODE: ocrMode\n", "")
    files, _ = load_bicep_files(infra_copy)
    assert [p.message for p in check_app_settings(files)] == [
        "setting OCR_MODE is read by the code (pipeline/settings.py SETTINGS) but no Bicep file sets it: "
        "add it to the app settings (infra/modules/appsettings.bicep)"
    ]


def test_a_new_code_setting_without_bicep_is_reported() -> None:
    files, _ = load_bicep_files(INFRA)
    problems = check_app_settings(files, code=code_settings() | {"IMAGE_CACHE_SECONDS"})
    assert len(problems) == 1
    assert problems[0].message.startswith("setting IMAGE_CACHE_SECONDS is read by the code")


def test_a_setting_nobody_reads_is_reported(infra_copy: Path) -> None:
    edit(infra_copy / "modules" / "appsettings.bicep", "    OCR_MODE: ocrMode\n",
         "    OCR_MODE: ocrMode\n    OCR_LANGUAGE: 'en'\n")
    files, _ = load_bicep_files(infra_copy)
    problems = check_app_settings(files, root=infra_copy.parent)
    assert [str(p) for p in problems] == [
        "infra/modules/appsettings.bicep: app setting OCR_LANGUAGE is set in Bicep but neither the code "
        "(pipeline/settings.py SETTINGS) nor the Functions runtime reads it"
    ]


def test_a_storage_connection_string_in_bicep_is_reported(infra_copy: Path) -> None:
    edit(infra_copy / "modules" / "appsettings.bicep", "    OCR_MODE: ocrMode\n",
         "    OCR_MODE: ocrMode\n    AzureWebJobsStorage: 'DefaultEndpointsProtocol=https'\n")
    files, _ = load_bicep_files(infra_copy)
    problems = check_app_settings(files)
    assert len(problems) == 1
    assert problems[0].message.startswith("app setting AzureWebJobsStorage should not be deployed")


def test_one_queue_per_classifier() -> None:
    queues = variable_value(parse_bicep(INFRA / "main.bicep"), "classifierQueues")
    dependencies = json.loads((REPO / "dependencies.json").read_text())
    assert queues == sorted(dependencies)


def test_azure_yaml_points_azd_at_the_template_and_the_function_app() -> None:
    text = (REPO / "azure.yaml").read_text()
    assert re.search(r"^infra:\n  provider: bicep\n  path: infra\n  module: main$", text, re.M)
    assert re.search(r"^  api:\n    project: \.\n    language: python\n    host: function$", text, re.M)
    assert (REPO / "function_app.py").is_file() and (REPO / "host.json").is_file()
    # azd deploy finds the site by this tag.
    assert "'azd-service-name': 'api'" in (INFRA / "modules" / "functionapp.bicep").read_text()
