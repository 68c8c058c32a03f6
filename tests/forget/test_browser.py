"""The Forget buttons of the Job and Batch pages, in a real browser against the dashboard's own routes."""

from __future__ import annotations

from collections.abc import Iterator

import azure.functions as func
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from dashboard import dashboard_blueprint
from dashboard.forget import forget_blueprint
from pipeline.host.azurite import free_port
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from tests.dashboard.conftest import BROWSER_ARGS
from tests.forget.synthetic import Synthetic, random_id
from tests.pipeline.host.support import Threaded, until

pytestmark = [pytest.mark.azurite, pytest.mark.browser]

CONFIG = QueueConfig(batch_size=1, new_batch_threshold=0, max_dequeue_count=2, visibility_timeout=0,
                     max_polling_interval=0.1, message_encoding="none", lease_seconds=5, function_timeout=60)


@pytest.fixture
def page() -> Iterator[Page]:
    """A Chromium page on which dialogs are expected (the confirmation); a script error fails the test."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
        assert not errors, errors


@pytest.fixture
def site(settings: Settings) -> Iterator[str]:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    app.register_functions(dashboard_blueprint(settings))
    app.register_functions(forget_blueprint(settings))
    port = free_port()
    running = Threaded(LocalHost(app=app, settings=settings, config=CONFIG, http_port=port))
    until(running.host.ready.is_set, what="for the host")
    yield f"http://127.0.0.1:{port}/api/dashboard/"
    running.stop()


def test_the_job_and_batch_pages_forget_after_a_confirmation(site: str, page: Page, services: Services) -> None:
    storage = services.storage
    database = Database.from_settings(services.settings)
    data = Synthetic(storage=storage, database=database, index=services.face_index)
    batch = random_id("page")
    data.job(batch, "one")
    data.job(batch, "two")
    database.close()
    answers: list[str] = []

    def answer(dialog: object) -> None:
        answers.append(dialog.message)  # type: ignore[attr-defined]
        (dialog.dismiss if len(answers) == 1 else dialog.accept)()  # type: ignore[attr-defined]

    page.on("dialog", answer)
    page.goto(f"{site}#/job/{batch}/one")
    button = page.get_by_role("button", name="Forget this job")
    button.click()  # dismissed: nothing happens
    expect(page.locator("#raw")).to_be_visible()
    assert storage.table(PIPELINELOGS).get_entity(batch, "one")
    button.click()
    page.wait_for_url(f"**#/batch/{batch}")
    assert "cannot be undone" in answers[-1]
    expect(page.locator("#jobs tr[data-job]")).to_have_count(1)
    page.get_by_role("button", name="Forget this batch").click()
    page.wait_for_url("**#/upload")
    assert list(storage.table(PIPELINELOGS).query_entities("PartitionKey eq @b", parameters={"b": batch})) == []
