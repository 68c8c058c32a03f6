"""Every Bicep file parses; module calls and loaded files line up (what `bicep build` would catch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.check import check_templates, load_bicep_files
from infra.check.__main__ import main
from tests.infra.conftest import INFRA, REPO, edit

pytestmark = pytest.mark.infra


def test_every_bicep_file_parses() -> None:
    files, problems = load_bicep_files(INFRA, root=REPO)
    assert problems == []
    names = {f.path.relative_to(INFRA).as_posix() for f in files}
    assert {"main.bicep", "modules/storage.bicep", "modules/functionapp.bicep", "modules/appsettings.bicep",
            "modules/sql.bicep", "modules/sqlschema.bicep"} <= names


def test_modules_and_loaded_files_line_up() -> None:
    files, _ = load_bicep_files(INFRA, root=REPO)
    assert check_templates(files, root=REPO) == []


def test_a_broken_bicep_file_is_reported_with_its_line(infra_copy: Path) -> None:
    edit(infra_copy / "modules" / "storage.bicep", "  kind: 'StorageV2'\n", "  kind: 'StorageV2'\n  sku {\n")
    files, problems = load_bicep_files(infra_copy, root=infra_copy.parent)
    assert [p.file for p in problems] == ["infra/modules/storage.bicep"]
    assert "Bicep syntax error at line" in problems[0].message
    assert len(files) == len(list(infra_copy.rglob("*.bicep"))) - 1


def test_a_module_given_an_undeclared_parameter_is_reported(infra_copy: Path) -> None:
    edit(infra_copy / "main.bicep", "    queueNames: concat(classifierQueues, externalQueueNames)\n",
         "    queueNames: concat(classifierQueues, externalQueueNames)\n    queueCount: 7\n")
    files, _ = load_bicep_files(infra_copy)
    messages = [p.message for p in check_templates(files)]
    assert messages == ["module 'storage' passes 'queueCount', which modules/storage.bicep does not declare"]


def test_a_module_missing_a_required_parameter_is_reported(infra_copy: Path) -> None:
    edit(infra_copy / "main.bicep", "    tableNames: [\n      'pipelinelogs'\n      'persistedfaces'\n    ]\n", "")
    files, _ = load_bicep_files(infra_copy)
    messages = [p.message for p in check_templates(files)]
    assert messages == ["module 'storage' does not pass 'tableNames', which modules/storage.bicep requires"]


def test_the_sql_schema_the_deployment_loads_must_exist(infra_copy: Path) -> None:
    (infra_copy / "sql" / "schema.sql").unlink()
    files, _ = load_bicep_files(infra_copy)
    problems = check_templates(files)
    assert len(problems) == 1
    assert problems[0].file.endswith("sqlschema.bicep")
    assert "loads '../sql/schema.sql', which does not exist" in problems[0].message


def test_the_command_line_fails_on_a_broken_file(infra_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(infra_copy / "main.bicep", "targetScope = 'resourceGroup'", "targetScope = 'resourceGroup\n")
    assert main(["--root", str(infra_copy.parent), "--no-policy"]) == 1
    out = capsys.readouterr().out
    assert "infra/main.bicep: Bicep syntax error" in out
    assert "problem(s)" in out


def test_the_command_line_passes_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(REPO), "--no-policy"]) == 0
    assert "infra checks: all good" in capsys.readouterr().out
