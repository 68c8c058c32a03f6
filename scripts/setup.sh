#!/usr/bin/env bash
# Set up what the main job (`scripts/demo.sh`, `imaginem host`) needs on Debian/Ubuntu with Python 3.11 and Node 20:
# system packages (when run as root or with sudo), a virtualenv in .venv with the project, and Azurite.
# Test-only tools are in scripts/setup-tests.sh. Each part is skipped when what it installed is still current
# (stamps in .venv/.stamps), so a second run takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-lib.sh

# ODBC for the embedded SQLite database, DejaVu for the rendered sample sign.
apt_install unixodbc libsqliteodbc fonts-dejavu-core python3-venv

PYTHON=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
# The project and its runtime dependencies only: the test tools (the dev extra) come with setup-tests.sh.
PIP_STAMP=$(stamp_of pyproject.toml requirements.txt -- "$(.venv/bin/python -VV)" ".")
if ! stamp_matches pip "$PIP_STAMP"; then
  echo "== installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
  stamp_write pip "$PIP_STAMP"
fi

NPM_STAMP=$(stamp_of package.json package-lock.json -- "$(node --version)")
if [ ! -x node_modules/.bin/azurite ] || ! stamp_matches npm "$NPM_STAMP"; then
  echo "== installing Azurite (package-lock.json)"
  npm ci --silent --no-audit --no-fund >/dev/null
  stamp_write npm "$NPM_STAMP"
fi
echo "== setup done"
