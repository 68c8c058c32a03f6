"""The worker tests need Azure's Python worker (azure-functions-runtime, Python 3.13+): scripts/test.sh runs
them with .venv/py313; the main suite's interpreter skips collecting them."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("azure_functions_runtime") else ["test_*.py"]
