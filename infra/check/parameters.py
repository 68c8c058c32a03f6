"""Check ARM/azd parameters files against the parameters their Bicep template declares."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infra.check.bicep import BicepFile, Parameter, Problem

__all__ = ["check_parameters_file", "check_parameters_files", "template_for"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "securestring": (str,),
    "int": (int,),
    "bool": (bool,),
    "object": (dict,),
    "secureobject": (dict,),
    "array": (list,),
}


def _is_placeholder(value: Any) -> bool:
    """azd replaces ``${VAR}`` and ``$(function ...)`` before the deployment sees the file."""
    return isinstance(value, str) and ("${" in value or "$(" in value)


def _type_name(value: Any) -> str:
    names = {bool: "bool", int: "int", str: "string", dict: "object", list: "array"}
    return names.get(type(value), type(value).__name__)


def _check_value(parameter: Parameter, value: Any) -> list[str]:
    kinds = _JSON_TYPES.get(parameter.type.lower())
    if kinds is None:
        return []  # a user-defined or union type: the Bicep compiler's business
    if _is_placeholder(value):
        if str not in kinds:
            return [f"{parameter.name} is {parameter.type}, but azd substitutes {value!r} as a string"]
        return []
    # JSON true/false are Python bools, which are ints too.
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        return [f"{parameter.name} must be {parameter.type}, not {_type_name(value)} ({value!r})"]
    errors = []
    if parameter.allowed is not None and value not in parameter.allowed:
        allowed = ", ".join(repr(a) for a in parameter.allowed)
        errors.append(f"{parameter.name}={value!r} is not allowed; use one of {allowed}")
    if isinstance(value, int) and not isinstance(value, bool):
        if parameter.min_value is not None and value < parameter.min_value:
            errors.append(f"{parameter.name}={value} is below the minimum {parameter.min_value}")
        if parameter.max_value is not None and value > parameter.max_value:
            errors.append(f"{parameter.name}={value} is above the maximum {parameter.max_value}")
    if isinstance(value, str | list):
        if parameter.min_length is not None and len(value) < parameter.min_length:
            errors.append(f"{parameter.name} is shorter than {parameter.min_length}")
        if parameter.max_length is not None and len(value) > parameter.max_length:
            errors.append(f"{parameter.name} is longer than {parameter.max_length}")
    return errors


def check_parameters_file(path: Path, template: BicepFile, *, label: str | None = None) -> list[Problem]:
    """Every name declared, every required one given, every value of the right type and allowed."""
    where = label or str(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        return [Problem(where, f"not a readable JSON file: {error}")]
    entries = document.get("parameters") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        return [Problem(where, 'has no "parameters" object')]
    declared = template.parameters
    template_name = template.path.name
    problems: list[Problem] = []
    for name, entry in entries.items():
        parameter = declared.get(name)
        if parameter is None:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(Problem(
                where, f"unknown parameter {name!r}: {template_name} declares no such parameter{hint}",
            ))
            continue
        if not isinstance(entry, Mapping) or not ({"value", "reference"} & entry.keys()):
            problems.append(Problem(where, f'{name} needs a "value" (or a Key Vault "reference")'))
            continue
        if "reference" in entry:
            continue  # resolved from Key Vault at deployment time
        problems.extend(Problem(where, message) for message in _check_value(parameter, entry["value"]))
    for name, parameter in declared.items():
        # A secure value is better typed at the prompt or given with -p than kept in a file.
        if parameter.required and name not in entries and not parameter.secure:
            problems.append(Problem(
                where, f"missing required parameter {name!r} ({template_name} gives it no default)",
            ))
    return problems


def template_for(parameters_file: Path, templates: Mapping[Path, BicepFile]) -> BicepFile | None:
    """``x.parameters.json`` goes with ``x.bicep`` beside it, else with ``main.bicep`` (azuredeploy)."""
    stem = parameters_file.name.removesuffix(".parameters.json")
    for candidate in (parameters_file.with_name(f"{stem}.bicep"), parameters_file.with_name("main.bicep")):
        template = templates.get(candidate.resolve())
        if template is not None:
            return template
    return None


def check_parameters_files(
    infra_dir: Path, files: Iterable[BicepFile], *, root: Path | None = None
) -> list[Problem]:
    """Check every ``*.parameters.json`` under ``infra_dir`` against its template."""
    templates = {bicep.path.resolve(): bicep for bicep in files}
    problems: list[Problem] = []
    for path in sorted(infra_dir.rglob("*.parameters.json")):
        label = str(path.relative_to(root)) if root else str(path)
        template = template_for(path, templates)
        if template is None:
            problems.append(Problem(label, "no template beside it (neither <name>.bicep nor main.bicep parsed)"))
            continue
        problems.extend(check_parameters_file(path, template, label=label))
    return problems
