#!/usr/bin/env bash
# Set up everything Imaginem needs on Debian/Ubuntu with Python 3.11 and Node 20:
# system packages (when run as root or with sudo), a virtualenv in .venv, the package, and Azurite.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(unixodbc libsqliteodbc odbc-postgresql tdsodbc postgresql fonts-dejavu-core chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
python3.11 -c "import ensurepip, venv" 2>/dev/null || python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "== installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
echo "== installing Python packages"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"

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

echo "== installing Azurite (package-lock.json)"
npm ci --silent --no-audit --no-fund >/dev/null
echo "== setup done"
