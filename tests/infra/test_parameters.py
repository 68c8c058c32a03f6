"""Parameters files against main.bicep: names, required values, types, @allowed values, ranges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.check import check_parameters_file, check_parameters_files, load_bicep_files
from infra.check.bicep import BicepFile, parse_bicep
from tests.infra.conftest import INFRA, REPO

pytestmark = pytest.mark.infra

# The parameters of the original deployment's azuredeploy.parameters.json, as its users filled them in.
ORIGINAL: dict[str, Any] = {
    "branch": "master",
    "pipelineDefinition": "generalclassification,ocr,facedetection,facecrop,faceprint,facematch,pipelineoutput",
    "faceApiKey": "0123456789abcdef0123456789abcdef",
    "visionApiKey": "fedcba9876543210fedcba9876543210",
    "administratorLogin": "imaginemadmin",
    "administratorLoginPassword": "Correct-Horse-Battery-9",
    "collation": "SQL_Latin1_General_CP1_CI_AS",
    "edition": "Basic",
    "maxSizeBytes": "1073741824",
    "requestedServiceObjectiveName": "Basic",
    "skuName": "S1",
    "skuCapacity": 1,
    "deploymentPostFix": "prod01",
}


@pytest.fixture(scope="module")
def main_bicep() -> BicepFile:
    return parse_bicep(INFRA / "main.bicep")


def write(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "azuredeploy.parameters.json"
    document = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {name: {"value": value} for name, value in values.items()},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def messages(path: Path, template: BicepFile) -> list[str]:
    return [p.message for p in check_parameters_file(path, template)]


def test_the_committed_parameter_files_match_main_bicep() -> None:
    files, _ = load_bicep_files(INFRA)
    assert (INFRA / "main.parameters.json").is_file()
    assert (INFRA / "azuredeploy.parameters.json").is_file()
    assert check_parameters_files(INFRA, files, root=REPO) == []


def test_the_original_parameter_names_all_exist(main_bicep: BicepFile) -> None:
    assert set(ORIGINAL) <= set(main_bicep.parameters)


def test_an_original_parameters_file_still_deploys(tmp_path: Path, main_bicep: BicepFile) -> None:
    assert messages(write(tmp_path, ORIGINAL), main_bicep) == []


def test_new_parameters_all_have_defaults(main_bicep: BicepFile) -> None:
    required = {name for name, p in main_bicep.parameters.items() if p.required}
    assert required <= set(ORIGINAL), f"new parameters must have defaults: {required - set(ORIGINAL)}"


def test_an_unknown_parameter_is_reported(tmp_path: Path, main_bicep: BicepFile) -> None:
    values = dict(ORIGINAL)
    values["deploymentPostfix"] = values.pop("deploymentPostFix")
    assert messages(write(tmp_path, values), main_bicep) == [
        "unknown parameter 'deploymentPostfix': main.bicep declares no such parameter; "
        "did you mean 'deploymentPostFix'?"
    ]


def test_a_disallowed_value_is_reported(tmp_path: Path, main_bicep: BicepFile) -> None:
    found = messages(write(tmp_path, ORIGINAL | {"edition": "Hyperscale"}), main_bicep)
    assert found == ["edition='Hyperscale' is not allowed; use one of 'Basic', 'Standard', 'Premium', 'GeneralPurpose'"]


def test_a_value_of_the_wrong_type_is_reported(tmp_path: Path, main_bicep: BicepFile) -> None:
    found = messages(write(tmp_path, ORIGINAL | {"skuCapacity": "1", "maxSizeBytes": 1073741824}), main_bicep)
    assert sorted(found) == [
        "maxSizeBytes must be string, not int (1073741824)", "skuCapacity must be int, not string ('1')",
    ]


def test_a_bool_is_not_an_int(tmp_path: Path, main_bicep: BicepFile) -> None:
    assert messages(write(tmp_path, ORIGINAL | {"skuCapacity": True}), main_bicep) == [
        "skuCapacity must be int, not bool (True)"
    ]


def test_a_value_out_of_range_is_reported(tmp_path: Path, main_bicep: BicepFile) -> None:
    found = messages(write(tmp_path, ORIGINAL | {"skuCapacity": 0, "administratorLoginPassword": "short"}), main_bicep)
    assert sorted(found) == ["administratorLoginPassword is shorter than 12", "skuCapacity=0 is below the minimum 1"]


def test_a_missing_required_value_is_reported(tmp_path: Path, main_bicep: BicepFile) -> None:
    values = {k: v for k, v in ORIGINAL.items() if k != "administratorLogin"}
    assert messages(write(tmp_path, values), main_bicep) == [
        "missing required parameter 'administratorLogin' (main.bicep gives it no default)"
    ]


def test_a_secure_value_may_be_left_to_the_prompt(tmp_path: Path, main_bicep: BicepFile) -> None:
    values = {k: v for k, v in ORIGINAL.items() if k != "administratorLoginPassword"}
    assert messages(write(tmp_path, values), main_bicep) == []


def test_azd_placeholders_only_stand_for_strings(tmp_path: Path, main_bicep: BicepFile) -> None:
    values = ORIGINAL | {"edition": "${SQL_EDITION}", "skuCapacity": "${SKU_CAPACITY}"}
    assert messages(write(tmp_path, values), main_bicep) == [
        "skuCapacity is int, but azd substitutes '${SKU_CAPACITY}' as a string"
    ]


def test_a_key_vault_reference_is_accepted(tmp_path: Path, main_bicep: BicepFile) -> None:
    path = write(tmp_path, ORIGINAL)
    document = json.loads(path.read_text())
    document["parameters"]["administratorLoginPassword"] = {
        "reference": {"keyVault": {"id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/z"},
                      "secretName": "sql-admin-password"}
    }
    path.write_text(json.dumps(document))
    assert messages(path, main_bicep) == []


def test_a_file_that_is_not_json_is_reported(tmp_path: Path, main_bicep: BicepFile) -> None:
    path = tmp_path / "broken.parameters.json"
    path.write_text('{"parameters": {"branch": {"value": "main"},}}')
    found = messages(path, main_bicep)
    assert len(found) == 1 and found[0].startswith("not a readable JSON file")


def test_every_parameters_file_in_infra_is_checked(infra_copy: Path) -> None:
    (infra_copy / "azuredeploy.parameters.json").write_text(
        json.dumps({"parameters": {"administratorLogin": {"value": "a"}, "edition": {"value": "Free"}}})
    )
    files, _ = load_bicep_files(infra_copy)
    problems = check_parameters_files(infra_copy, files, root=infra_copy.parent)
    assert [str(p) for p in problems] == [
        "infra/azuredeploy.parameters.json: edition='Free' is not allowed; "
        "use one of 'Basic', 'Standard', 'Premium', 'GeneralPurpose'"
    ]
