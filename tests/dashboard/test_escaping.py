"""Values from images and users reach the page as text: OCR text, tags, captions, file names, exceptions."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

import PIL.Image
import pytest
from playwright.sync_api import Page, expect

from pipeline.host.azurite import Azurite
from pipeline.job_record import PIPELINELOGS, PipelineLog
from pipeline.sql.connection import EMBEDDED_FILE, Database
from pipeline.sql.writer import OutputWriter
from pipeline.storage import Storage
from tests.dashboard.conftest import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.azurite]

OCR = "<img src=x onerror=alert(1)>"
TAG = "<b>bold</b>"
CAPTION = "<script>alert(2)</script>"
NAME = '"><svg onload=alert(3)>.png'
EXCEPTION = "ClassifierError: <img src=y onerror=alert(4)>"


def test_markup_from_an_image_or_a_user_is_shown_as_text_and_never_runs(page: Page, dashboard: Dashboard,
                                                                       azurite: Azurite, unique: str) -> None:
    storage = Storage(azurite.connection_string)
    batch, job = f"b'<i>{unique}", "0000-x.png"
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (64, 48), (0, 90, 200)).save(buffer, format="PNG")
    image_url = storage.upload_blob("inputimages", f"{unique}/{job}", buffer.getvalue(), content_type="image/png")
    outputs = {"generalclassification": {"tags": [{"name": TAG, "confidence": 0.9}],
                                         "description": {"captions": [{"text": CAPTION, "confidence": 0.8}]}},
               "ocr": {"OCR_fullText": OCR}}
    message = {"job_definition": {"id": job, "batch_id": batch, "processing_pipeline": ["ocr", "pipelineoutput"],
                                  "processing_step": 1,
                                  "input": {"image_url": image_url, "image_parameters": {"original_name": NAME}}},
               "job_output": outputs}
    OutputWriter(database=Database(sqlite_path=dashboard.data_dir / EMBEDDED_FILE)).write(message)
    PipelineLog(storage.table(PIPELINELOGS)).merge(batch, job, {
        "image_url": image_url, "ocr": "step 0: failed", "ocr_exception": EXCEPTION,
        "pipelineoutput": "step 1: success", "job_output": json.dumps(message)})

    page.goto(dashboard.url + "#/results")
    card = page.locator(".card", has=page.locator(".ocr"))
    expect(card.locator(".ocr")).to_have_text(OCR)
    expect(card.locator(".chip.tag")).to_have_text(f"{TAG} 90%")
    expect(card.locator(".caption")).to_have_text(f"{CAPTION} 80%")
    expect(card.locator("h3")).to_have_text(NAME)
    expect(card.locator("svg rect.face-box")).to_have_count(0)
    _no_markup(page)

    page.goto(dashboard.url + f"#/batch/{quote(batch, safe='')}")
    expect(page.locator("#jobs .error")).to_have_text(f"ocr: {EXCEPTION}")
    _no_markup(page)
    page.goto(dashboard.url + f"#/job/{quote(batch, safe='')}/{quote(job, safe='')}")
    expect(page.locator("#steps tr[data-queue=ocr] td.error")).to_have_text(EXCEPTION)
    expect(page.locator("#entity")).to_contain_text(OCR)

    _no_markup(page)


def _no_markup(page: Page) -> None:
    for selector in ("img[src=x]", "img[src=y]", "main script", "main svg[onload]", "b:text-is('bold')", "i"):
        assert page.locator(selector).count() == 0, selector
    assert page.evaluate("document.querySelectorAll('[onerror],[onload]').length") == 0
