#!/usr/bin/env bash
# Set everything up, then run the main job: sample images through all seven classifiers, locally, no keys.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# On a terminal the demo ends by printing the dashboard URL and serves it until Ctrl-C; piped or in CI it
# runs the main job and exits. Either way its Azurite and data are private and go when it ends (the report stays).
if [ -t 0 ] && [ -t 1 ]; then
  exec .venv/bin/imaginem demo --dashboard "$@"
fi
exec .venv/bin/imaginem demo "$@"
