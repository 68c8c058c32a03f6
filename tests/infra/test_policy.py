"""The checkov policy scan: one run (it is slow) over a copy of infra/ beside deliberately bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.check import PolicyReport, find_checkov, load_bicep_files, run_policy_scan
from infra.check.bicep import Problem
from infra.check.policy import _required_settings
from tests.infra.conftest import INFRA, REPO, copy_infra, edit

pytestmark = [pytest.mark.infra, pytest.mark.slow]

# TLS 1.0: what the scan exists to stop.
OPEN_STORAGE = """\
resource open 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stopen'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_0'
  }
}
"""

# A skip without a reason, and a skip of a check that may never be skipped.
UNEXPLAINED_SKIP = """\
resource quiet 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35
  // checkov:skip=CKV_AZURE_44: legacy clients
  name: 'stquiet'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_0'
  }
}
"""

# Valid Bicep that checkov's own parser rejects (more comment lines in a row than it accepts).
UNPARSABLE = "resource odd 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'stodd'\n" + (
    "  // a comment\n" * 8) + "  location: 'westeurope'\n}\n"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PolicyReport]:
    checkov = find_checkov(REPO)
    assert checkov is not None, "checkov not found: python3 -m venv .venv/checkov && " \
        ".venv/checkov/bin/pip install checkov==3.3.30"
    root = tmp_path_factory.mktemp("policy")
    infra = copy_infra(root)
    bad = root / "bad"
    bad.mkdir()
    (bad / "open.bicep").write_text(OPEN_STORAGE)
    (bad / "quiet.bicep").write_text(UNEXPLAINED_SKIP)
    (bad / "odd.bicep").write_text(UNPARSABLE)
    shutil.copy(INFRA / ".checkov.yaml", root / ".checkov.yaml")
    files, _ = load_bicep_files(infra)
    return root, run_policy_scan(root, checkov=checkov, config_file=root / ".checkov.yaml", files=files)


def _in(problems: list[Problem], folder: str) -> list[str]:
    return [str(p) for p in problems if f"/{folder}/" in f"/{p.file}"]


def test_the_templates_pass_the_policy_scan(scanned: tuple[Path, PolicyReport]) -> None:
    _root, report = scanned
    assert _in(report.problems, "infra") == []
    assert report.passed > 20
    assert report.skipped > 0  # the inline skips, each with its reason


def test_old_tls_fails(scanned: tuple[Path, PolicyReport]) -> None:
    root, report = scanned
    found = _in(report.problems, "bad")
    expected = (f"{root.name}/bad/open.bicep:1: CKV_AZURE_44 Ensure Storage Account is using the latest version "
                "of TLS encryption failed for Microsoft.Storage/storageAccounts.open")
    assert any(p.startswith(expected) for p in found), found


def test_a_skip_needs_a_reason(scanned: tuple[Path, PolicyReport]) -> None:
    found = _in(scanned[1].problems, "bad")
    expected = "CKV_AZURE_35 is skipped for Microsoft.Storage/storageAccounts.quiet without a reason"
    assert any(expected in p for p in found), found


def test_some_checks_may_never_be_skipped(scanned: tuple[Path, PolicyReport]) -> None:
    found = _in(scanned[1].problems, "bad")
    expected = "CKV_AZURE_44 may not be skipped (Ensure Storage Account is using the latest version of TLS encryption)"
    assert any(p.endswith(expected) for p in found), found


def test_a_file_checkov_cannot_parse_fails(scanned: tuple[Path, PolicyReport]) -> None:
    root, report = scanned
    assert report.parsing_errors == 1
    assert [str(p) for p in report.problems if "could not parse" in p.message] == [
        f"{root.name}/bad/odd.bicep: checkov could not parse this file, so no policy was checked in it"
    ]


def test_server_wide_sql_auditing_stands_in_for_the_skipped_checks(infra_copy: Path) -> None:
    sql = infra_copy / "modules" / "sql.bicep"
    edit(sql, "    state: 'Enabled'\n    isAzureMonitorTargetEnabled",
         "    state: 'Disabled'\n    isAzureMonitorTargetEnabled")
    files, _ = load_bicep_files(infra_copy)
    assert [p.message for p in _required_settings(files)] == [
        "Microsoft.Sql/servers/auditingSettings with state 'Enabled' is required "
        "(it stands in for a check skipped in .checkov.yaml)"
    ]
