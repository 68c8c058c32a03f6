"""The dashboard in a real browser (Debian's chromium driven by Playwright) against ``imaginem host``.

A user uploads three photos, watches the batch finish, sees the face box on the astronaut,
filters by a tag, opens a job, uploads the astronaut again and opens the person seen in both (the
People page itself: test_people_browser.py).
Screenshots of every page go to the test's folder, and to ``$IMAGINEM_SCREENSHOTS`` when set
(``IMAGINEM_SCREENSHOTS=docs`` refreshes the README's pictures).
"""

from __future__ import annotations

import os
from pathlib import Path

import PIL.Image
import pytest
import skimage.data
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.azurite, pytest.mark.models, pytest.mark.slow]

ALL_STEPS = ("generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput")
FINISH_MS = 300_000  # the first job loads every model


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    files = {}
    for name, image in (("astronaut", skimage.data.astronaut()), ("coffee", skimage.data.coffee()),
                        ("chelsea", skimage.data.chelsea()), ("astronaut-again", skimage.data.astronaut())):
        files[name] = folder / f"{name}.jpg"
        PIL.Image.fromarray(image).save(files[name], quality=90 if name != "astronaut-again" else 80)
    return files


def _shot(page: Page, name: str, folder: Path) -> None:
    page.wait_for_load_state("networkidle")
    for target in [folder, *([Path(os.environ["IMAGINEM_SCREENSHOTS"])] if os.environ.get("IMAGINEM_SCREENSHOTS")
                             else [])]:
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"dashboard-{name}.png"), full_page=name != "results")


def _upload(page: Page, dashboard: Dashboard, files: list[Path], shots: Path | None = None) -> str:
    page.goto(dashboard.url + "#/upload")
    expect(page.locator(".pipeline")).to_have_text(" → ".join(ALL_STEPS))
    for needed in ("facedetection", "faceprint"):  # facematch needs them: the resolver puts them back
        page.locator(f"input[value={needed}]").uncheck()
    expect(page.locator(".pipeline")).to_have_text(" → ".join(ALL_STEPS))
    page.set_input_files("#files", [str(f) for f in files])
    expect(page.locator(".previews figure")).to_have_count(len(files))
    if shots:
        _shot(page, "upload", shots)
    page.click("#submit")
    page.wait_for_url("**#/batch/**")
    expect(page.locator("[data-done=true]")).to_be_visible(timeout=FINISH_MS)
    return page.url.rsplit("/", 1)[-1]


def test_upload_watch_browse_filter_inspect_and_people(page: Page, dashboard: Dashboard, photos: dict[str, Path],
                                                       tmp_path: Path) -> None:
    batch = _upload(page, dashboard, [photos["astronaut"], photos["coffee"], photos["chelsea"]], tmp_path)
    expect(page.locator("[data-outcome=succeeded] b")).to_have_text("3")
    expect(page.locator("#jobs tbody tr")).to_have_count(3)
    _shot(page, "batch", tmp_path)

    page.goto(dashboard.url + "#/results")
    astronaut = page.locator(".card", has_text="astronaut.jpg")
    expect(astronaut.locator("svg rect.face-box")).to_have_count(1)  # the face box drawn on the photo
    expect(astronaut.locator("img.crop")).to_have_count(1)
    expect(page.locator(".card", has_text="chelsea.jpg").locator(".chip.tag", has_text="cat")).not_to_have_count(0)
    _shot(page, "results", tmp_path)

    page.select_option("#label-filter", "espresso")
    page.click("#apply-filter")
    expect(page.locator(".card")).to_have_count(1)
    expect(page.locator(".card h3")).to_have_text("coffee.jpg")

    page.goto(dashboard.url + "#/results")
    page.locator(".card", has_text="astronaut.jpg").locator("h3 a").click()
    expect(page.locator("#outcome")).to_have_text("(succeeded)")
    expect(page.locator("#steps tbody tr")).to_have_count(7)
    expect(page.locator(".photo.large svg rect.face-box")).to_have_count(1)
    expect(page.locator(".photo.large svg circle.landmark")).not_to_have_count(0)
    expect(page.locator("#entity")).to_contain_text("facematch_output")
    _shot(page, "job", tmp_path)

    # The same person again, after the first is stored: the People page puts both photos together.
    second = _upload(page, dashboard, [photos["astronaut-again"]])
    assert second != batch
    page.goto(dashboard.url + "#/results")
    again = page.locator(".card", has_text="astronaut-again.jpg")
    expect(again.locator(".seen a")).to_have_text("0000-astronaut.jpg")

    page.goto(dashboard.url + "#/people")
    person = page.locator(".person-card", has_text="2 photos").first  # her face in both photos
    expect(person).to_be_visible()
    person.locator("a.face-link").click()
    expect(page.locator(".person-photo")).to_have_count(2)
    expect(page.locator("#photos")).to_contain_text("astronaut.jpg")
    expect(page.locator("#photos")).to_contain_text("astronaut-again.jpg")
