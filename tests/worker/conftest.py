"""The worker tests run on the Python versions Azure Functions offers, each from its own venv made by
scripts/setup.sh and run by scripts/test.sh: 3.13 with Azure's Python worker (azure-functions-runtime, .venv/py313),
3.12 with the app indexed as the host's bundled worker does (.venv/py312). The main suite's interpreter (3.11)
collects neither."""

import importlib.util
import sys

if sys.version_info[:2] == (3, 12):
    collect_ignore_glob = ["test_python313_*.py"]
elif sys.version_info >= (3, 13) and importlib.util.find_spec("azure_functions_runtime"):
    collect_ignore_glob = ["test_python312_*.py"]
else:
    collect_ignore_glob = ["test_*.py"]
