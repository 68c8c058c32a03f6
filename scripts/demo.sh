#!/usr/bin/env bash
# Set everything up, then run the main job: sample images through all seven classifiers, locally, no keys.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# --dashboard: the demo ends by printing the dashboard URL and serves it until Ctrl-C.
.venv/bin/imaginem demo --dashboard "$@"
