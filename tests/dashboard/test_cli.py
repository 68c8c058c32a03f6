"""`imaginem dashboard` prints the page's URL, and says when nothing serves it; the demo ends by serving it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from pipeline.cli.main import main
from pipeline.host.azurite import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_imaginem_dashboard_prints_the_url_and_fails_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["dashboard", "--port", str(port)]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == f"http://127.0.0.1:{port}/api/dashboard/"
    assert "imaginem host" in captured.err

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert main(["dashboard", "--port", str(server.server_port)]) == 0
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.models
@pytest.mark.slow
def test_the_demo_ends_by_serving_the_dashboard_at_the_printed_url(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "IMAGINEM_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("AzureWebJobsStorage", None)  # the demo starts an Azurite of its own
    demo = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "demo", "--dashboard", "--port", str(port),
                             "--report", str(tmp_path / "report")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 600
        url = None
        for line in demo.stdout:
            if found := re.match(r"Dashboard: (\S+)", line):
                url = found.group(1)
                break
            assert time.monotonic() < deadline
        assert url == f"http://127.0.0.1:{port}/api/dashboard/"
        assert "app.js" in requests.get(url, timeout=10).text
        results = requests.get(f"http://127.0.0.1:{port}/api/results", timeout=30).json()["results"]
        assert len(results) == 6 and all(r["image"] for r in results)
        assert requests.get(f"http://127.0.0.1:{port}{results[0]['image']}", timeout=10).status_code == 200
    finally:
        demo.send_signal(signal.SIGTERM)  # SIGINT is ignored when the suite was started with `&`
        code = demo.wait(120)
        if demo.stdout is not None:
            demo.stdout.close()
    assert code == 0
