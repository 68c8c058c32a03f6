"""The dashboard in a real browser (Debian's chromium driven by Playwright) against ``imaginem host``.

A user picks three photos and a file that is not one, takes that file out again, uploads, watches the
batch finish, sees the face box on the astronaut, filters by a tag, opens a job (a summary per step, the raw
entity folded away), uploads the astronaut again and opens the person seen in both (the People page itself:
test_people_browser.py). On a phone-sized screen the
title and the three tabs stay on one line.
Screenshots of every page go to the test's folder, and to ``$IMAGINEM_SCREENSHOTS`` when set
(``IMAGINEM_SCREENSHOTS=docs`` refreshes the README's pictures).
"""

from __future__ import annotations

import os
import re
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


def _upload(page: Page, dashboard: Dashboard, files: list[Path], shots: Path | None = None,
            not_an_image: Path | None = None) -> str:
    page.goto(dashboard.url + "#/upload")
    expect(page.locator(".pipeline")).to_have_text(" → ".join(ALL_STEPS))
    for needed in ("facedetection", "faceprint"):  # facematch needs them: the resolver puts them back
        page.locator(f"input[value={needed}]").uncheck()
    expect(page.locator(".pipeline")).to_have_text(" → ".join(ALL_STEPS))
    if not_an_image is not None:  # flagged at once, and taken out of the selection without a reload
        page.set_input_files("#files", [str(f) for f in [*files[:1], not_an_image]])
        bad = page.locator(".previews figure.bad")
        expect(bad).to_have_count(1)
        expect(bad).to_contain_text(not_an_image.name)
        expect(page.locator("p.error")).to_contain_text(f"not images: {not_an_image.name}")
        assert page.locator("img[src=z]").count() == 0
        bad.locator("button.remove").click()
        expect(page.locator(".previews figure")).to_have_count(1)
        expect(page.locator("p.error")).to_have_text("")
        files = files[1:]
    page.set_input_files("#files", [str(f) for f in files])
    expect(page.locator(".previews figure")).to_have_count(len(files) + (1 if not_an_image else 0))
    if shots:
        _shot(page, "upload", shots)
    page.click("#submit")
    page.wait_for_url("**#/batch/**")
    expect(page.locator("[data-done=true]")).to_be_visible(timeout=FINISH_MS)
    return page.url.rsplit("/", 1)[-1]


def test_upload_watch_browse_filter_inspect_and_people(page: Page, dashboard: Dashboard, photos: dict[str, Path],
                                                       tmp_path: Path) -> None:
    notes = tmp_path / "<img src=z onerror=alert(5)>.jpg"  # its name is shown as text, never as markup
    notes.write_text("a text file named like a photo")
    batch = _upload(page, dashboard, [photos["astronaut"], photos["coffee"], photos["chelsea"]], tmp_path,
                    not_an_image=notes)
    expect(page.locator("[data-outcome=succeeded] b")).to_have_text("3")
    expect(page.locator("#jobs tbody tr")).to_have_count(3)
    expect(page.locator("nav a.current")).to_have_count(0)  # a batch is not the Upload page
    _shot(page, "batch", tmp_path)

    page.goto(dashboard.url + "#/results")
    astronaut = page.locator(".card", has_text="astronaut.jpg")
    expect(astronaut.locator("svg rect.face-box")).to_have_count(1)  # the face box drawn on the photo
    expect(astronaut.locator("img.crop")).to_have_count(1)
    expect(page.locator(".card", has_text="chelsea.jpg").locator(".chip.tag", has_text="cat")).not_to_have_count(0)
    expect(page.locator("nav a.current")).to_have_text("Results")
    categories = page.locator(".chip.category").all_inner_texts()
    assert categories and not [c for c in categories if "_" in c], categories  # drink_ reads "drink"
    stamp = astronaut.locator("time")  # local and readable; the ISO value on hover
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", stamp.get_attribute("title") or "")
    assert "T" not in stamp.inner_text() and stamp.inner_text().strip()
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
    steps = page.locator("#steps")
    expect(steps.locator("tr[data-queue=facedetection] td.summary")).to_have_text("1 face found")
    expect(steps.locator("tr[data-queue=generalclassification] td.summary")).to_contain_text("tags: person")
    expect(steps.locator("tr[data-queue=facematch] td.summary")).to_have_text("1 face, 0 matches with earlier faces")
    expect(steps.locator("tr[data-queue=ocr] td.time")).to_have_text(re.compile(r"^\d+(\.\d)? (ms|s)$"))
    expect(page.locator("#entity")).to_be_hidden()  # the raw JSON once, folded away
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2500, height  # it was ~4,900 px of JSON, twice
    _shot(page, "job", tmp_path)
    page.click("#raw summary")
    expect(page.locator("#entity")).to_contain_text("facematch_output")
    gone = page.evaluate("unavailable('/api/images/inputimages/no-such-batch/no-such.jpg')")
    assert gone == "The image is gone from this storage account."

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


def test_on_a_phone_the_title_and_tabs_stay_on_one_line(page: Page, dashboard: Dashboard) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(dashboard.url + "#/upload")
    expect(page.locator("nav a.current")).to_have_text("Upload")
    tops = {round(box["y"]) for box in (page.locator(selector).bounding_box() for selector in
                                        ("header h1", "nav a[data-page=upload]", "nav a[data-page=results]",
                                         "nav a[data-page=people]")) if box}
    assert len(tops) <= 2 and max(tops) - min(tops) < 12, tops  # one line (the title's font is larger)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
