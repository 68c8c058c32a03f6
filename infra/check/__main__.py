"""``python -m infra.check``: run every offline infrastructure check and exit 1 on any problem."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from infra.check.appsettings import check_app_settings
from infra.check.bicep import Problem, check_templates, load_bicep_files
from infra.check.parameters import check_parameters_files
from infra.check.policy import find_checkov, run_policy_scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.check", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: here)")
    parser.add_argument("--no-policy", action="store_true", help="skip the checkov scan (the slow part)")
    parser.add_argument("--checkov", type=Path, help="checkov executable (default: .venv/checkov, then PATH)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    root = args.root.resolve()
    infra = root / "infra"
    files, problems = load_bicep_files(infra, root=root)
    print(f"parsed {len(files)} Bicep files")
    problems += check_templates(files, root=root)
    problems += check_parameters_files(infra, files, root=root)
    problems += check_app_settings(files, root=root)
    if not args.no_policy:
        checkov = args.checkov or find_checkov(root)
        if checkov is None:
            problems.append(Problem("checkov", "not found: python3 -m venv .venv/checkov && "
                                    ".venv/checkov/bin/pip install checkov==3.3.30"))
        else:
            report = run_policy_scan(infra, checkov=checkov, files=files)
            print(f"checkov: {report.passed} passed, {report.failed} failed, {report.skipped} skipped with a reason")
            problems += report.problems
    for problem in problems:
        print(f"  {problem}")
    print(f"infra checks: {len(problems)} problem(s)" if problems else "infra checks: all good")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
