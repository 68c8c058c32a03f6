#!/usr/bin/env bash
# Set everything up, then run the linters and the whole test suite (Azurite, models, SQL engines, infra checks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-tests.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy (strict, pipeline and classifiers)"
.venv/bin/mypy
echo "== pytest"
# pytest exits 5 when it collects no test: that is a failure here, like any other non-zero code.
.venv/bin/python -m pytest "$@"
echo "== pytest on Python 3.13 with Azure's Python worker (tests/worker)"
if [ -x .venv/py313/bin/python ]; then
  .venv/py313/bin/python -m pytest "$@" tests/worker
else
  echo "no .venv/py313: Python 3.13 was not found by scripts/setup-tests.sh" >&2
  exit 1
fi
echo "== pytest on Python 3.12, Flex Consumption's default (tests/worker)"
if [ -x .venv/py312/bin/python ]; then
  .venv/py312/bin/python -m pytest "$@" tests/worker
else
  echo "no .venv/py312: Python 3.12 was not found by scripts/setup.sh" >&2
  exit 1
fi
