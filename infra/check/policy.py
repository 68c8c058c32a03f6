"""The checkov policy scan: no failed check, no parse error, and a reason for every skip."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.check.bicep import BicepFile, Problem, walk_resources

__all__ = ["NEVER_SKIP", "REQUIRED_SETTINGS", "PolicyReport", "find_checkov", "run_policy_scan"]

logger = logging.getLogger(__name__)

# Findings that no inline skip may accept: encryption in transit and anonymous access.
NEVER_SKIP: frozenset[str] = frozenset({
    "CKV_AZURE_3",    # storage: HTTPS only
    "CKV_AZURE_44",   # storage: TLS 1.2
    "CKV_AZURE_190",  # storage: no public blob access
    "CKV_AZURE_70",   # app: HTTPS only
    "CKV_AZURE_145",  # function app: TLS 1.2
    "CKV_AZURE_52",   # SQL: TLS 1.2
})

# Resources whose settings stand in for checks skipped in .checkov.yaml: (type, property, value).
REQUIRED_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("Microsoft.Sql/servers/auditingSettings", "state", "Enabled"),
    ("Microsoft.Sql/servers/securityAlertPolicies", "state", "Enabled"),
)

_MIN_REASON = 20


@dataclass
class PolicyReport:
    """What checkov said, reduced to what the checks need."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    problems: list[Problem] = field(default_factory=list)


def find_checkov(repo_root: Path) -> Path | None:
    """checkov lives in its own virtualenv (.venv/checkov: its pins clash with pytest's), else on PATH."""
    for candidate in (repo_root / ".venv" / "checkov" / "bin" / "checkov", Path(sys.executable).with_name("checkov")):
        if candidate.is_file():
            return candidate
    found = shutil.which("checkov")
    return Path(found) if found else None


def _reports(output: str) -> list[Mapping[str, Any]]:
    data = json.loads(output)
    return [data] if isinstance(data, dict) else list(data)


def run_policy_scan(
    infra_dir: Path,
    *,
    checkov: Path,
    config_file: Path | None = None,
    files: Iterable[BicepFile] = (),
    timeout: float = 600,
) -> PolicyReport:
    """Run checkov on ``infra_dir`` and turn every failure, parse error and unexplained skip into a problem."""
    config_file = config_file or infra_dir / ".checkov.yaml"
    command = [str(checkov), "--directory", str(infra_dir), "--framework", "bicep", "--skip-download",
               "--output", "json", "--compact"]
    if config_file.is_file():
        command += ["--config-file", str(config_file)]
    logger.info("running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    report = PolicyReport()
    where = "checkov"
    try:
        reports = _reports(done.stdout)
    except json.JSONDecodeError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        report.problems.append(Problem(where, f"checkov exited {done.returncode} without a JSON report: {tail}"))
        return report
    for result in reports:
        if not isinstance(result, Mapping) or "results" not in result:
            continue  # checkov prints a bare summary when there is nothing to scan
        summary = result.get("summary") or {}
        report.passed += int(summary.get("passed", 0))
        report.failed += int(summary.get("failed", 0))
        report.skipped += int(summary.get("skipped", 0))
        results = result["results"]
        for path in results.get("parsing_errors") or []:
            report.parsing_errors += 1
            report.problems.append(Problem(
                _label(Path(path), infra_dir), "checkov could not parse this file, so no policy was checked in it"
            ))
        for check in results.get("failed_checks") or []:
            lines = check.get("file_line_range") or []
            guideline = f" ({check['guideline']})" if check.get("guideline") else ""
            report.problems.append(Problem(
                f"{infra_dir.name}{check.get('file_path', '')}:{lines[0] if lines else '?'}",
                f"{check.get('check_id')} {check.get('check_name')} failed for {check.get('resource')}{guideline}; "
                "fix it, or skip it inline with `// checkov:skip=<ID>: <reason>`",
            ))
        for check in results.get("skipped_checks") or []:
            check_id = str(check.get("check_id"))
            reason = str((check.get("check_result") or {}).get("suppress_comment") or "").strip(" :")
            place = f"{infra_dir.name}{check.get('file_path', '')}"
            if check_id in NEVER_SKIP:
                report.problems.append(Problem(place, f"{check_id} may not be skipped ({check.get('check_name')})"))
            elif len(reason) < _MIN_REASON:
                report.problems.append(Problem(
                    place, f"{check_id} is skipped for {check.get('resource')} without a reason: "
                    "write `// checkov:skip=<ID>: <why this is acceptable>`",
                ))
    if report.passed + report.failed + report.skipped == 0 and not report.parsing_errors:
        report.problems.append(Problem(where, f"checkov checked nothing in {infra_dir}"))
    report.problems.extend(_required_settings(files))
    return report


def _label(path: Path, infra_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(infra_dir.resolve().parent))
    except ValueError:
        return str(path)


def _required_settings(files: Iterable[BicepFile]) -> list[Problem]:
    files = list(files)
    if not files:
        return []
    problems = []
    for kind, prop, value in REQUIRED_SETTINGS:
        bodies = [body for _f, _s, k, body in walk_resources(files) if k == kind]
        if not any(str((body.get("properties") or {}).get(prop)) == value for body in bodies):
            problems.append(Problem(
                "infra",
                f"{kind} with {prop} '{value}' is required (it stands in for a check skipped in .checkov.yaml)",
            ))
    return problems
