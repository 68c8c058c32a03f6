"""The packages depend downwards only (issue 19 item 8): read every shipped module's imports with ``ast``.

- ``pipeline/`` and ``classifiers/`` never import ``dashboard`` (the dashboard sits on top of them);
- ``classifiers/`` never imports ``pipeline.cli`` or ``pipeline.host`` (a classifier runs in any host);
- nothing shipped imports ``tests`` (``.funcignore`` leaves tests/ out of the deployed app).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("pipeline", "classifiers", "dashboard")


def _modules(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved, names of
    ``from x import y`` given as ``x.y`` too (``y`` may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return sorted({f"{path.relative_to(ROOT)}:{line} imports {name}"
                   for path in paths for line, name in imported(path)
                   if any(_under(name, prefix) for prefix in forbidden)})


def test_pipeline_and_classifiers_never_import_the_dashboard() -> None:
    assert violations(_modules("pipeline", "classifiers"), ("dashboard",)) == []


def test_classifiers_never_import_the_command_line_or_the_host() -> None:
    assert violations(_modules("classifiers"), ("pipeline.cli", "pipeline.host")) == []


def test_nothing_shipped_imports_the_tests() -> None:
    assert violations([*_modules(*SHIPPED), ROOT / "function_app.py"], ("tests",)) == []


@pytest.mark.parametrize(("source", "name"), [
    ("from dashboard.responses import error\n", "dashboard"),
    ("import dashboard.static as s\n", "dashboard"),
    ("from pipeline import host\n", "pipeline.host"),
    ("from ..local import models\n", "classifiers.local.models"),
])
def test_the_check_sees_each_form_of_import(tmp_path: Path, source: str, name: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Absolute, aliased, ``from package import module`` and relative imports are all caught."""
    module = tmp_path / "classifiers" / "backends" / "probe.py"
    module.parent.mkdir(parents=True)
    module.write_text(source, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert violations([module], (name,)) != []
