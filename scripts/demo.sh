#!/usr/bin/env bash
# Set everything up, then run the main job: sample images through all seven classifiers, locally, no keys.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/imaginem demo "$@"
