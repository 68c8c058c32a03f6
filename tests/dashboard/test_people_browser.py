"""People in a real browser (Debian's chromium driven by Playwright) against ``imaginem host`` on Azurite.

Five finished photos are put straight into storage, SQL and the (table) face index — one person found twice,
the same person once more as a stranger, a cameraman, and the cameraman wrongly taken for her — so the test
needs no models. A user names her and the cameraman, searches by name, merges the two, moves the cameraman's face
out ("not this person") and on to the cameraman (a type-ahead of names), hides both at once, and
filters the results by her name. Screenshots go to the test's folder, and to ``$IMAGINEM_SCREENSHOTS`` when
set (``IMAGINEM_SCREENSHOTS=docs`` refreshes the README's docs/people-*.png).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageOps
import pytest
from playwright.sync_api import Page, expect
from skimage import data

from classifiers.backends import factory as backends
from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace
from pipeline.host.azurite import Azurite
from pipeline.job_record import PIPELINELOGS, PipelineLog, step_state
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.sql.writer import OutputWriter
from tests.dashboard.conftest import Dashboard
from tests.support.face_index_reset import empty_table_face_index

pytestmark = [pytest.mark.browser, pytest.mark.azurite]

ASTRONAUT = (175, 76, 91, 91)  # dlib's box of her face in skimage's astronaut
CAMERAMAN = (182, 105, 90, 95)


def _jpeg(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _png(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _mirrored(rect: tuple[int, int, int, int], width: int = 512) -> tuple[int, int, int, int]:
    left, top, w, h = rect
    return width - left - w, top, w, h


def _seed(settings: Settings) -> FaceIndexBackend:
    services = Services.from_settings(settings)
    empty_table_face_index(services.storage)
    index = backends.face_index(settings=services.settings, storage=services.storage)
    writer = OutputWriter(database=Database.from_settings(settings))
    log = PipelineLog(services.storage.table(PIPELINELOGS))  # for the Job page
    rng = np.random.default_rng(5)
    her, stranger, him, step = (v / np.linalg.norm(v) for v in rng.standard_normal((4, 128)).astype(np.float32))
    astronaut = PIL.Image.fromarray(data.astronaut())
    camera = PIL.Image.fromarray(data.camera()).convert("RGB")
    sepia = PIL.ImageOps.colorize(astronaut.convert("L"), "#3b2a1a", "#f3e3c3")
    photos = [  # name, picture, face rectangle, print
        ("eileen-1.jpg", astronaut, ASTRONAUT, her),
        ("eileen-2.jpg", PIL.ImageOps.mirror(astronaut), _mirrored(ASTRONAUT), her + 0.1 * step),
        ("eileen-3.jpg", sepia, ASTRONAUT, stranger),  # too far: a person of its own until merged
        ("cameraman.jpg", camera, CAMERAMAN, him),
        ("cameraman-2.jpg", PIL.ImageOps.mirror(camera), _mirrored(CAMERAMAN), her - 0.3 * step),  # a look-alike slip
    ]
    for number, (name, picture, rect, vector) in enumerate(photos):
        job_id = f"job-{number}"
        url = services.storage.upload_blob("inputimages", f"family/{name}", _jpeg(picture), content_type="image/jpeg")
        left, top, width, height = rect
        crop = services.storage.upload_blob(settings.faces_container, f"family/{job_id}/face-000.png",
                                            _png(picture.crop((left, top, left + width, top + height))),
                                            content_type="image/png")
        face_id = f"{job_id}-face-0"
        [matched] = index.add_and_search(JobKey(batch_id="family", job_id=job_id, image_url=url),
                                         [NewFace(face_id=face_id, face_rectangle=rect, print=vector)],
                                         threshold=0.6, limit=20)
        box = {"left": left, "top": top, "width": width, "height": height}
        detected = {"faces": [{"faceId": face_id, "faceRectangle": box}]}
        message = {
            "job_definition": {"id": job_id, "batch_id": "family",
                               "input": {"image_url": url, "image_parameters": {"original_name": name}},
                               "processing_pipeline": ["facedetection", "facecrop", "faceprint", "facematch",
                                                       "pipelineoutput"], "processing_step": 4},
            "job_output": {
                "generalclassification": {"tags": [{"name": "person", "confidence": 0.9}], "categories": [],
                                          "description": {"tags": [], "captions": []},
                                          "metadata": {"width": 512, "height": 512, "format": "Jpeg"}},
                "facedetection": detected,
                "facecrop": {"facesUrls": [crop]},
                "facematch": {"matches": [{"faceId": face_id, "faceRectangle": box, "person_id": matched.person_id,
                                           "matches": []}]},
            },
        }
        writer.write(message)
        steps = {queue: step_state(step, "success")
                 for step, queue in enumerate(message["job_definition"]["processing_pipeline"])}
        outputs = {f"{queue}_output": json.dumps(output) for queue, output in message["job_output"].items()
                   if queue in steps}
        log.merge("family", job_id, {"image_url": url, **steps, **outputs, "job_output": json.dumps(message)})
    return index


def _shot(page: Page, name: str, folder: Path) -> None:
    page.wait_for_load_state("networkidle")
    for image in page.locator("img").all():
        expect(image).to_have_js_property("complete", True)
    for target in [folder, *([Path(os.environ["IMAGINEM_SCREENSHOTS"])] if os.environ.get("IMAGINEM_SCREENSHOTS")
                             else [])]:
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"people-{name}.png"), full_page=True)


def test_name_search_merge_split_move_hide_and_filter_results_by_a_person(
        page: Page, dashboard: Dashboard, azurite: Azurite, tmp_path: Path) -> None:
    settings = Settings.from_env({"AzureWebJobsStorage": azurite.connection_string,
                                  "IMAGINEM_DATA_DIR": str(dashboard.data_dir)})
    index = _seed(settings)
    her = index.person_of("job-0-face-0")
    stranger = index.person_of("job-2-face-0")
    him = index.person_of("job-3-face-0")
    assert her and stranger and him and her != stranger and index.person_of("job-4-face-0") == her

    page.goto(dashboard.url + "#/people")
    cards = page.locator(".person-card")
    expect(cards).to_have_count(3)
    first = page.locator(f'.person-card[data-person="{her}"]')
    expect(first.locator(".count")).to_have_text("3 photos")  # the look-alike slip among them
    expect(first.locator("img.face")).to_have_js_property("complete", True)
    assert first.locator("img.face").evaluate("img => img.naturalWidth") == 256  # a large, sharp face

    # Name her and the cameraman in place.
    for person, text in ((her, "Eileen"), (him, "Cameraman")):
        name = page.locator(f'.person-card[data-person="{person}"] input.person-name')
        name.fill(text)
        name.press("Enter")
        expect(name).to_have_class("person-name saved")

    # Search by part of a name (the server's search, any case); the unnamed stranger is not found by name.
    search = page.locator("#people-search")
    search.fill("EIL")
    expect(cards).to_have_count(1)
    expect(cards.locator("input.person-name")).to_have_value("Eileen")
    search.fill("zz")
    expect(page.get_by_text("Nobody named like “zz”.")).to_be_visible()
    search.fill("")
    expect(cards).to_have_count(3)

    # Merge the stranger (the same woman) into her: select both, the first chosen keeps its id and name.
    first.hover()
    first.locator("input.select").check()
    page.locator(f'.person-card[data-person="{stranger}"] input.select').check()
    expect(page.locator("#merge")).to_have_text("Merge 2 people")
    expect(page.locator("#hide-selected")).to_have_text("Hide 2 people")
    page.mouse.move(0, 0)
    _shot(page, "grid", tmp_path)
    page.locator("#merge").click()
    page.wait_for_url(f"**#/person/{her}")
    expect(page.locator(".person-head input.person-name")).to_have_value("Eileen")
    expect(page.locator("#person-count")).to_have_text("4 photos · 4 faces")
    expect(page.locator(".person-photo")).to_have_count(4)

    # The cameraman is not her: move his face out to a new person ("not this person").
    slip = page.locator('.person-photo[data-job="job-4"]')
    slip.locator("button.not-this").click()
    expect(slip.locator(".face-row")).to_contain_text("Moved to a new person")
    expect(page.locator("#person-count")).to_have_text("3 photos · 3 faces")
    moved = index.person_of("job-4-face-0")
    assert moved and moved not in (her, him)
    _shot(page, "person", tmp_path)

    # On that new person's page, move the face on to the cameraman, picked by typing part of his name.
    slip.locator(".face-row a").click()
    page.wait_for_url(f"**#/person/{moved}")
    row = page.locator('.person-photo[data-job="job-4"] .face-row')
    row.locator("button.move-to").click()
    picker = row.locator("input.move-name")
    picker.press_sequentially("camera")
    expect(row.locator("datalist option")).to_have_count(1)
    expect(row.locator("datalist option")).to_have_attribute("value", "Cameraman")
    _shot(page, "move", tmp_path)
    picker.fill("Cameraman")
    picker.press("Enter")
    expect(row).to_contain_text("Moved to Cameraman")
    assert index.person_of("job-4-face-0") == him

    # Results filtered by her name: her three photos, each face box and crop named.
    page.goto(dashboard.url + "#/results")
    expect(page.locator("#person-filter option", has_text="Eileen")).to_have_count(1)
    page.select_option("#person-filter", label="Eileen (3 photos)")
    page.click("#apply-filter")
    expect(page.locator(".card")).to_have_count(3)
    expect(page.locator(".card h3")).to_have_text(["eileen-3.jpg", "eileen-2.jpg", "eileen-1.jpg"],
                                                  ignore_case=False)
    expect(page.locator(".card .face-name", has_text="Eileen")).to_have_count(3)
    expect(page.locator(".card .box-name")).to_have_text(["Eileen"] * 3)
    _shot(page, "results", tmp_path)

    # The job page of the cameraman's mirrored photo names its box after him now.
    page.goto(dashboard.url + "#/job/family/job-4")
    expect(page.locator("#steps")).to_be_visible()
    expect(page.locator("figure.photo .box-name")).to_have_text("Cameraman")
    expect(page.locator("#job-faces .face-name")).to_have_text("Cameraman")
    _shot(page, "job", tmp_path)

    # The people grid afterwards: Eileen and the cameraman (the moved-out person has no face left). Hide both at
    # once; "Show hidden people" brings them back, to be shown again at once.
    page.goto(dashboard.url + "#/people")
    expect(page.locator(".person-card")).to_have_count(2)
    expect(page.locator(f'.person-card[data-person="{her}"] input.person-name')).to_have_value("Eileen")
    for person in (her, him):
        page.locator(f'.person-card[data-person="{person}"] input.select').check()
    page.locator("#hide-selected").click()
    expect(page.locator(".person-card")).to_have_count(0)
    assert index.persons() == [] and len(index.persons(include_hidden=True)) == 2
    page.locator("#show-hidden").check()
    expect(page.locator(".person-card.is-hidden")).to_have_count(2)
    for person in (her, him):
        page.locator(f'.person-card[data-person="{person}"] input.select').check()
    expect(page.locator("#hide-selected")).to_have_text("Show 2 people")
    page.locator("#hide-selected").click()
    expect(page.locator(".person-card.is-hidden")).to_have_count(0)
    assert len(index.persons()) == 2
