"""The dashboard under test: ``imaginem host`` (the real function_app, real classifiers) on the session's Azurite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, sync_playwright

from pipeline.host.azurite import Azurite, free_port
from pipeline.settings import Settings
from pipeline.storage import Storage
from tests.support.face_index_reset import empty_table_face_index

ROOT = Path(__file__).resolve().parents[2]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"]


@dataclass(frozen=True)
class Dashboard:
    url: str
    """The page: http://127.0.0.1:<port>/api/dashboard/"""
    api: str
    data_dir: Path


@pytest.fixture(scope="module")
def dashboard(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    data_dir = tmp_path_factory.mktemp("dashboard-data")
    # The table face index has fixed names on the session's Azurite: this host's persons are its own uploads'.
    empty_table_face_index(Storage.from_settings(Settings(storage_connection_string=azurite.connection_string)))
    port = free_port()
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string, "IMAGINEM_DATA_DIR": str(data_dir)}
    log = (data_dir / "host.log").open("w")
    host = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "host", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{api}/uploads", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert host.poll() is None, (data_dir / "host.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "imaginem host did not answer"
        time.sleep(0.3)
    try:
        yield Dashboard(url=f"{api}/dashboard/", api=api, data_dir=data_dir)
    finally:
        host.send_signal(signal.SIGINT)
        try:
            host.wait(timeout=60)
        except subprocess.TimeoutExpired:
            host.kill()
            host.wait()
        log.close()


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh Chromium page; a script error or any dialog (alert) on it fails the test."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
        yield page
        browser.close()
        assert not errors, errors
