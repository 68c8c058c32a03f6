"""Offline checks of the Bicep templates, run in CI where no Bicep compiler can be downloaded.

- every ``.bicep`` file parses (pycep), every module path and ``loadTextContent`` file exists, and
  every module call passes known parameters and all required ones;
- every ``*.parameters.json`` matches the parameters its template declares (names, required
  values, types, ``@allowed`` values, ranges);
- the app settings set in Bicep are exactly the settings the code reads (``pipeline.settings``)
  plus the Functions runtime's own;
- a checkov policy scan, which fails on any finding that is not skipped with a reason.

Run ``python -m infra.check`` from the repository root; tests/infra exercises each check.
"""

from infra.check.appsettings import check_app_settings
from infra.check.bicep import BicepFile, Parameter, Problem, check_templates, load_bicep_files, variable_value
from infra.check.parameters import check_parameters_file, check_parameters_files
from infra.check.policy import PolicyReport, find_checkov, run_policy_scan

__all__ = [
    "BicepFile",
    "Parameter",
    "PolicyReport",
    "Problem",
    "check_app_settings",
    "check_parameters_file",
    "check_parameters_files",
    "check_templates",
    "find_checkov",
    "load_bicep_files",
    "run_policy_scan",
    "variable_value",
]
