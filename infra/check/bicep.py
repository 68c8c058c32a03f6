"""Parse Bicep files with pycep and read what the other checks need: parameters, resources, modules."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark.exceptions import LarkError, UnexpectedInput
from pycep import BicepParser

__all__ = [
    "BicepFile",
    "Parameter",
    "Problem",
    "check_templates",
    "load_bicep_files",
    "parse_bicep",
    "variable_value",
    "walk_resources",
]

logger = logging.getLogger(__name__)

_LOAD_TEXT = re.compile(r"""load(?:Text|Json|Yaml|FileAsBase64)Content\(\s*'([^']+)'""")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the infrastructure files, said so a person can fix it."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class Parameter:
    """A ``param`` of a Bicep file, with the decorators that constrain its values."""

    name: str
    type: str
    has_default: bool
    secure: bool = False
    allowed: tuple[Any, ...] | None = None
    min_value: int | None = None
    max_value: int | None = None
    min_length: int | None = None
    max_length: int | None = None

    @property
    def required(self) -> bool:
        return not self.has_default


@dataclass(frozen=True)
class BicepFile:
    """A parsed Bicep file: its path, its text and pycep's JSON form of it."""

    path: Path
    text: str
    tree: Mapping[str, Any] = field(repr=False)

    @property
    def parameters(self) -> dict[str, Parameter]:
        return {name: _parameter(name, spec) for name, spec in (self.tree.get("parameters") or {}).items()}

    @property
    def resources(self) -> dict[str, Mapping[str, Any]]:
        return dict(self.tree.get("resources") or {})

    @property
    def modules(self) -> dict[str, Mapping[str, Any]]:
        return dict(self.tree.get("modules") or {})


def _parameter(name: str, spec: Mapping[str, Any]) -> Parameter:
    decorators = {d.get("type"): d.get("argument") for d in spec.get("decorators") or []}
    allowed = decorators.get("allowed")
    return Parameter(
        name=name,
        type=str(spec.get("type", "")),
        has_default=spec.get("default") is not None,
        secure="secure" in decorators,
        allowed=tuple(allowed) if isinstance(allowed, list) else None,
        min_value=decorators.get("min_value"),
        max_value=decorators.get("max_value"),
        min_length=decorators.get("min_length"),
        max_length=decorators.get("max_length"),
    )


def _relative(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root)) if root else str(path)
    except ValueError:
        return str(path)


def parse_bicep(path: Path, *, parser: BicepParser | None = None) -> BicepFile:
    """Parse one file; raises ValueError naming the file, line and column of a syntax error."""
    text = path.read_text(encoding="utf-8")
    parser = parser or BicepParser(add_line_numbers=True)
    try:
        tree = parser.parse(text=text)
    except UnexpectedInput as error:
        line = text.splitlines()[error.line - 1] if 0 < error.line <= len(text.splitlines()) else ""
        raise ValueError(
            f"Bicep syntax error at line {error.line}, column {error.column}: {line.strip()!r}"
        ) from None
    except (LarkError, ValueError) as error:
        raise ValueError(f"Bicep syntax error: {str(error).splitlines()[0]}") from None
    return BicepFile(path=path, text=text, tree=tree)


def load_bicep_files(infra_dir: Path, *, root: Path | None = None) -> tuple[list[BicepFile], list[Problem]]:
    """Parse every ``.bicep`` file under ``infra_dir``; files that do not parse become problems."""
    parser = BicepParser(add_line_numbers=True)
    files: list[BicepFile] = []
    problems: list[Problem] = []
    paths = sorted(infra_dir.rglob("*.bicep"))
    if not paths:
        problems.append(Problem(_relative(infra_dir, root), "no .bicep file found"))
    for path in paths:
        try:
            files.append(parse_bicep(path, parser=parser))
        except ValueError as error:
            problems.append(Problem(_relative(path, root), str(error)))
    logger.debug("parsed %s Bicep files, %s failed", len(files), len(problems))
    return files, problems


def walk_resources(files: Iterable[BicepFile]) -> Iterator[tuple[BicepFile, str, str, Mapping[str, Any]]]:
    """Yield (file, symbolic name, resource type, body) for every resource, conditions unwrapped."""
    for bicep in files:
        for symbol, resource in bicep.resources.items():
            yield bicep, symbol, str(resource.get("type", "")), _unwrap(resource.get("config") or {})


def variable_value(bicep: BicepFile, name: str) -> Any:
    """The value of the ``var`` ``name``: a literal, or ``[for x in items(loadJsonContent(path)): x.key]``
    (the keys of a JSON file, sorted as ARM's ``items()`` sorts them); ValueError for anything else."""
    value = bicep.tree["variables"][name]["value"]
    loop = value.get("loop_type") if isinstance(value, Mapping) else None
    if loop is None:
        return value
    source = (loop.get("detail") or {}).get("array_name") or {}
    items = source.get("function") or {}
    loaded = ((items.get("parameters") or {}).get("arg_1") or {}).get("function") or {}
    accessor = ((value.get("config") or {}).get("operator") or {}).get("operands") or {}
    if (items.get("type"), loaded.get("type"), accessor.get("operand_1"), accessor.get("operand_2")) != (
            "items", "load_json_content", loop["detail"].get("item_name"), "key"):
        raise ValueError(f"var {name} of {bicep.path.name} is a loop the offline checks cannot evaluate")
    data = json.loads((bicep.path.parent / loaded["parameters"]["file_path"]).read_text(encoding="utf-8"))
    return sorted(data)


def _unwrap(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The body of a resource or module, whether plain, conditional (``if``) or a loop (``for``)."""
    while True:
        if "condition" in config and isinstance(config.get("config"), Mapping):
            config = config["config"]
        elif "loop_type" in config and isinstance(config.get("config"), Mapping):
            config = config["config"]
        else:
            return config


def check_templates(files: Iterable[BicepFile], *, root: Path | None = None) -> list[Problem]:
    """Module paths and loaded files exist; module calls pass only known and all required params."""
    files = list(files)
    by_path = {bicep.path.resolve(): bicep for bicep in files}
    problems: list[Problem] = []
    for bicep in files:
        where = _relative(bicep.path, root)
        for match in _LOAD_TEXT.finditer(bicep.text):
            target = (bicep.path.parent / match.group(1)).resolve()
            if not target.is_file():
                problems.append(Problem(where, f"loads {match.group(1)!r}, which does not exist ({target})"))
        for symbol, module in bicep.modules.items():
            relative = str((module.get("detail") or {}).get("path", ""))
            target = (bicep.path.parent / relative).resolve()
            called = by_path.get(target)
            if called is None:
                if not target.is_file():
                    problems.append(Problem(where, f"module {symbol!r} uses {relative!r}, which does not exist"))
                continue
            passed = set((_unwrap(module.get("config") or {}).get("params") or {}).keys())
            declared = called.parameters
            for name in sorted(passed - declared.keys()):
                problems.append(Problem(where, f"module {symbol!r} passes {name!r}, which {relative} does not declare"))
            for name in sorted(n for n, p in declared.items() if p.required and n not in passed):
                problems.append(Problem(where, f"module {symbol!r} does not pass {name!r}, which {relative} requires"))
    return problems
