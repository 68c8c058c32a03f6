"""The text tag: rapidocr's text detector on real rendered text and real photographs (no mocks), the gate in
front of it, and the pixel tags (graphics, night) beside it."""

from __future__ import annotations

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
import pytest

from classifiers import generalclassification
from classifiers.backends.factory import local_image_analyzer
from classifiers.backends.local.imagetype import pixel_statistics, pixel_tags
from classifiers.backends.local.models import ModelCache
from classifiers.backends.local.text_presence import TextPresence, text_tags, worth_a_look
from pipeline.classifier import NO_CONTEXT
from pipeline.images import Image
from pipeline.job import Job, parse_job
from tests.classifiers.images import dejavu_sans, encode, photo, resized, text_image

PAGE = ["Quarterly report for the northern region", "Sales rose by twelve percent in the spring,",
        "while costs stayed close to last year.", "The board meets again on the third of June."]


def logo(word: str) -> Image:
    """White bold capitals on a flat blue band, as a logo is drawn."""
    font = PIL.ImageFont.truetype(str(dejavu_sans()), 72)
    width = int(font.getlength(word)) + 120
    pil = PIL.Image.new("RGB", (width, 160), (250, 250, 245))
    draw = PIL.ImageDraw.Draw(pil)
    draw.rounded_rectangle((8, 8, width - 8, 152), radius=24, fill=(20, 70, 140))
    draw.text((60, 36), word, fill="white", font=font)
    return encode(pil, "PNG", "logo")


@pytest.fixture(scope="module")
def detector() -> TextPresence:
    return TextPresence(threads=1)


@pytest.fixture(scope="module")
def classifier() -> generalclassification.GeneralClassifier:
    return generalclassification.GeneralClassifier(analyzer=local_image_analyzer(ModelCache(threads=2)))


@pytest.fixture(scope="module")
def job() -> Job:
    return parse_job({"job_definition": {"id": "job-text", "input": {"image_url": "test.png"},
                                         "processing_pipeline": ["generalclassification"]}})


@pytest.mark.models
def test_a_rendered_page_has_lines_of_text_laid_out_as_a_document(detector: TextPresence) -> None:
    page = text_image(PAGE, size=32)
    regions = detector.find(page)
    assert regions.lines >= 2 and regions.coverage > 0.15, regions
    stats = pixel_statistics(page.pil)
    assert worth_a_look(stats, text_share=0.0)
    assert [t["name"] for t in text_tags(regions, stats)] == ["text", "document"]


@pytest.mark.models
def test_a_page_photographed_at_3_mp_is_still_found_at_256_px(detector: TextPresence) -> None:
    page = resized(text_image(PAGE, size=32), 2048, 1536)
    assert detector.find(page).confidence >= 0.5


@pytest.mark.models
@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "camera", "rocket"])
def test_photos_without_text_have_no_text_regions(detector: TextPresence, name: str) -> None:
    regions = detector.find(photo(name))
    assert regions.lines == 0 and text_tags(regions, pixel_statistics(photo(name).pil)) == [], regions


@pytest.mark.models
@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "rocket"])
def test_the_gate_skips_colour_photos(name: str) -> None:
    assert not worth_a_look(pixel_statistics(photo(name).pil), text_share=0.0)


@pytest.mark.models
def test_a_large_word_on_a_flat_band_is_text_logo_and_graphics(detector: TextPresence) -> None:
    image = logo("HARBOR")
    stats = pixel_statistics(image.pil)
    assert [t["name"] for t in text_tags(detector.find(image), stats)] == ["text", "logo"]
    assert [t["name"] for t in pixel_tags(stats)] == ["graphics"]


@pytest.mark.models
def test_the_classifier_tags_a_page_text_first_and_captions_it_a_document(
        classifier: generalclassification.GeneralClassifier, job: Job) -> None:
    output = classifier(job, text_image(PAGE, size=32), NO_CONTEXT)
    names = [t["name"] for t in output["tags"]]
    assert names[:2] == ["text", "document"], output["tags"]
    confidences = [t["confidence"] for t in output["tags"]]
    assert confidences == sorted(confidences, reverse=True)
    assert output["description"]["captions"][0]["text"] == "a document"


@pytest.mark.models
def test_the_classifier_keeps_people_first_and_adds_no_text_to_a_portrait(
        classifier: generalclassification.GeneralClassifier, job: Job) -> None:
    output = classifier(job, photo("astronaut"), NO_CONTEXT)
    names = [t["name"] for t in output["tags"]]
    assert names[0] == "person" and "text" not in names, output["tags"]
    rest = [t["confidence"] for t in output["tags"] if t["name"] not in ("person", "human face", "people", "group")]
    assert rest == sorted(rest, reverse=True)


def test_point_lights_on_a_dark_photo_are_a_night_sky_and_a_flat_black_image_is_not() -> None:
    rng = np.random.default_rng(7)
    sky = rng.normal(8, 3, (400, 600)).clip(0, 255)  # a camera's dark noise, never exactly flat
    ys, xs = rng.integers(2, 396, 3000), rng.integers(2, 596, 3000)
    for dy in (0, 1):
        for dx in (0, 1):
            sky[ys + dy, xs + dx] = 230
    pixels = np.stack([sky.astype(np.uint8)] * 3, axis=-1)
    assert [t["name"] for t in pixel_tags(pixel_statistics(encode(pixels).pil))] == ["night", "space",
                                                                                     "astronomical object"]
    black = np.zeros((400, 600, 3), dtype=np.uint8)
    assert [t["name"] for t in pixel_tags(pixel_statistics(encode(black).pil))] == ["graphics"]


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "camera", "rocket", "hubble_deep_field"])
def test_camera_photos_are_not_graphics(name: str) -> None:
    assert "graphics" not in {t["name"] for t in pixel_tags(pixel_statistics(photo(name).pil))}
