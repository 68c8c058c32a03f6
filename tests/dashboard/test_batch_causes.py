"""The Batch page shows each cause once (issue 23 item 5): the first image failure, then "N later step(s) skipped"."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from pipeline.host.azurite import Azurite
from pipeline.job_record import PIPELINELOGS, PipelineLog
from pipeline.storage import Storage
from tests.dashboard.conftest import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.azurite]

CAUSE = "NotAnImageError: https://example.invalid/page.png: the bytes are not an image"
SKIPPED = "ImageUnavailableError: skipped: the image could not be read at step 0 (generalclassification)"


def test_a_not_an_image_job_shows_one_error_and_a_skipped_count(page: Page, dashboard: Dashboard, azurite: Azurite,
                                                                unique: str) -> None:
    batch, job = f"causes{unique}", "0000-page.png"
    PipelineLog(Storage(azurite.connection_string).table(PIPELINELOGS)).merge(batch, job, {
        "image_url": "https://example.invalid/page.png", "image_error": CAUSE,
        "generalclassification": "step 0: failed", "generalclassification_exception": CAUSE,
        "ocr": "step 1: failed", "ocr_exception": SKIPPED,
        "facedetection": "step 2: failed", "facedetection_exception": SKIPPED,
        "pipelineoutput": "step 3: success", "job_output": json.dumps({})})

    page.goto(dashboard.url + f"#/batch/{quote(batch, safe='')}")
    expect(page.locator("#jobs .error")).to_have_text(f"generalclassification: {CAUSE}")
    expect(page.locator("#jobs .skipped")).to_have_text("2 later step(s) skipped")
    page.goto(dashboard.url + f"#/job/{quote(batch, safe='')}/{quote(job, safe='')}")
    expect(page.locator("#steps tr[data-queue=ocr] td.error")).to_have_text(SKIPPED)
