"""ocr with RapidOCR's bundled PP-OCR models on text rendered in DejaVu Sans, black on white."""

from __future__ import annotations

import importlib.resources
import json
import math
import socket
from pathlib import Path
from typing import Any

import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
import pytest
import rapidocr

from classifiers import ocr
from classifiers.backends.local import rapid_ocr
from classifiers.backends.local.language import LanguageDetector
from classifiers.backends.local.ocr_orientation import to_original, to_upright
from classifiers.backends.local.rapid_ocr import RapidTextReader, bundled_models
from classifiers.backends.local.text_detection import detect
from pipeline.classifier import NO_CONTEXT
from pipeline.errors import ClassifierError, ConfigurationError
from pipeline.job import Job, parse_job
from tests.classifiers.images import dejavu_sans, encode, text_image
from tests.classifiers.offline_services import services_with
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.models

PARAGRAPH = ["The quick brown fox jumps over", "the lazy dog near the river."]


def make_job() -> Job:
    return parse_job(job_message("job-ocr", ["ocr"]))


@pytest.fixture(scope="module")
def classifier() -> ocr.OcrClassifier:
    return ocr.OcrClassifier(reader=RapidTextReader())


def box(text: str) -> tuple[int, int, int, int]:
    left, top, width, height = (int(v) for v in text.split(","))
    assert width > 0 and height > 0
    return left, top, left + width, top + height


def contains(outer: str, inner: str, slack: int = 2) -> bool:
    o, i = box(outer), box(inner)
    return o[0] - slack <= i[0] and o[1] - slack <= i[1] and i[2] <= o[2] + slack and i[3] <= o[3] + slack


def lines_of(output: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for region in output["ocr"]["regions"] for line in region["lines"]]


def test_a_rendered_title_is_read_exactly_with_word_boxes(classifier: ocr.OcrClassifier) -> None:
    image = text_image(["IMAGINEM PIPELINE 2026"])
    output = classifier(make_job(), image, NO_CONTEXT)

    assert output["OCR_fullText"] == "IMAGINEM PIPELINE 2026"
    assert output["backend"] == "local"
    assert set(output["ocr"]) == {"language", "textAngle", "orientation", "regions"}
    assert output["ocr"]["orientation"] == "Up" and abs(output["ocr"]["textAngle"]) < 0.02
    [region] = output["ocr"]["regions"]
    [line] = region["lines"]
    words = line["words"]
    assert [w["text"] for w in words] == ["IMAGINEM", "PIPELINE", "2026"]
    assert contains(region["boundingBox"], line["boundingBox"])
    assert all(contains(line["boundingBox"], w["boundingBox"], slack=4) for w in words)
    lefts = [box(w["boundingBox"])[0] for w in words]
    rights = [box(w["boundingBox"])[2] for w in words]
    assert lefts == sorted(lefts) and all(r <= n for r, n in zip(rights, lefts[1:], strict=False))
    # The text starts one em (48 px) from the left and is about 0.7 em tall.
    left, top, right, bottom = box(line["boundingBox"])
    assert 30 <= left <= 60 and 25 <= bottom - top <= 75 and right <= image.width
    assert json.loads(json.dumps(output)) == output


def test_a_two_line_paragraph_is_one_region_of_two_lines(classifier: ocr.OcrClassifier) -> None:
    output = classifier(make_job(), text_image(PARAGRAPH), NO_CONTEXT)
    assert output["OCR_fullText"] == "\n".join(PARAGRAPH)
    [region] = output["ocr"]["regions"]
    assert [" ".join(w["text"] for w in line["words"]) for line in region["lines"]] == PARAGRAPH


def test_two_columns_are_two_regions_read_column_by_column(classifier: ocr.OcrClassifier) -> None:
    gap = " " * 30
    image = text_image([f"Left column one{gap}Right column one", f"Left column two{gap}Right column two"])
    output = classifier(make_job(), image, NO_CONTEXT)
    assert output["OCR_fullText"] == "Left column one\nLeft column two\nRight column one\nRight column two"
    left, right = output["ocr"]["regions"]
    assert box(left["boundingBox"])[2] < box(right["boundingBox"])[0]


def test_tilted_text_reports_the_angle_that_levels_it(classifier: ocr.OcrClassifier) -> None:
    tilted = encode(text_image(["IMAGINEM PIPELINE 2026"]).pil.rotate(5, expand=True, fillcolor="white"))
    output = classifier(make_job(), tilted, NO_CONTEXT)
    assert output["OCR_fullText"] == "IMAGINEM PIPELINE 2026"
    # Turned 5 degrees anticlockwise, so 5 degrees clockwise levels it.
    assert output["ocr"]["textAngle"] == pytest.approx(math.radians(5), abs=0.03)


def test_a_blank_page_has_no_regions(classifier: ocr.OcrClassifier) -> None:
    output = classifier(make_job(), encode(PIL.Image.new("RGB", (400, 300), "white")), NO_CONTEXT)
    assert output == {"ocr": {"language": "unk", "textAngle": 0.0, "orientation": "NotDetected", "regions": []},
                      "OCR_fullText": "", "backend": "local"}


PAGE = ["Please keep this door closed at all times.", "The alarm rings when it stays open too long.",
        "Thank you for helping us save energy."]


@pytest.mark.parametrize(("turn", "orientation"), [(PIL.Image.Transpose.ROTATE_180, "Down"),
                                                   (PIL.Image.Transpose.ROTATE_90, "Left"),
                                                   (PIL.Image.Transpose.ROTATE_270, "Right")])
def test_a_turned_page_reads_in_order_with_its_orientation_and_original_boxes(
        classifier: ocr.OcrClassifier, turn: PIL.Image.Transpose, orientation: str) -> None:
    turned = encode(text_image(PAGE).pil.transpose(turn))
    output = classifier(make_job(), turned, NO_CONTEXT)
    assert output["OCR_fullText"] == "\n".join(PAGE)
    assert output["ocr"]["orientation"] == orientation and output["ocr"]["language"] == "en"
    lines = [box(line["boundingBox"]) for line in lines_of(output)]
    assert all(0 <= b[0] and 0 <= b[1] and b[2] <= turned.width and b[3] <= turned.height for b in lines)
    tall = [b[3] - b[1] > b[2] - b[0] for b in lines]
    assert all(tall) if orientation in ("Left", "Right") else not any(tall)
    # Reading order: the first line lies at the text's top, wherever that faces in the image.
    first, last = lines[0], lines[-1]
    match orientation:
        case "Down":
            assert first[1] > last[1]
        case "Left":
            assert first[0] < last[0]
        case "Right":
            assert first[0] > last[0]


def tracked(word: str, size: int = 64, spacing: int = 14) -> PIL.Image.Image:
    """White capitals set with wide letter spacing on a blue band, as in a logo."""
    font = PIL.ImageFont.truetype(str(dejavu_sans()), size)
    width = sum(int(font.getlength(c)) + spacing for c in word) + 2 * size
    image = PIL.Image.new("RGB", (width, 2 * size), (20, 70, 140))
    draw, x = PIL.ImageDraw.Draw(image), size
    for c in word:
        draw.text((x, size // 2), c, fill="white", font=font)
        x += int(font.getlength(c)) + spacing
    return image


def test_letters_spaced_out_as_a_logo_stay_one_word(classifier: ocr.OcrClassifier) -> None:
    output = classifier(make_job(), encode(tracked("IMAGINEM")), NO_CONTEXT)
    assert output["OCR_fullText"] == "IMAGINEM"
    assert [w["text"] for line in lines_of(output) for w in line["words"]] == ["IMAGINEM"]


@pytest.mark.parametrize(("text", "score", "height", "kept"), [
    ("8", 0.89, 399, False),       # the coffee's cup read as a digit
    ("X1", 0.69, 68, False),       # stars on a flag
    ("***", 0.94, 120, False),     # no letter or digit
    ("0000", 0.54, 54, False),     # below MIN_LINE_SCORE
    ("YAMAHA", 0.81, 27, True),    # a real word on a photo
    ("42", 0.99, 30, True),        # a short confident label
    ("42", 0.99, 300, False),      # ... unless it fills the picture
])
def test_stray_glyphs_are_dropped_by_confidence_and_size(text: str, score: float, height: int, kept: bool) -> None:
    line = rapid_ocr._Line(box=(0, 0, 100, height), angle=0.0, score=score,
                           words=rapid_ocr._apportioned(text, (0, 0, 100, height), score))
    assert rapid_ocr.is_text(line, image_height=400) is kept


@pytest.mark.parametrize(("text", "language"), [
    ("Die Bibliothek bleibt am Montag geschlossen.", "de"),
    ("La réunion du conseil aura lieu jeudi prochain.", "fr"),
    ("The board meets again on the third of June.", "en"),
    ("IMAGINEM PIPELINE\nreads text offline", "en"),  # the demo's sign
    ("YAMAHA", "unk"),  # too short to tell
    ("YAMAHA motor company", "unk"),  # en 0.32, pt 0.29: too close to tell
])
def test_language_is_detected_from_the_text(text: str, language: str) -> None:
    assert LanguageDetector().detect(text) == language


def test_the_models_come_from_the_package_and_nothing_is_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    package = Path(rapidocr.__file__).parent
    assert all(path.is_file() and path.is_relative_to(package) for path in bundled_models().values())
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"test forbids connecting to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    fresh = ocr.OcrClassifier(reader=RapidTextReader())
    assert fresh(make_job(), text_image(["offline"]), NO_CONTEXT)["OCR_fullText"] == "offline"
    assert attempts == []


def test_a_package_without_its_models_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setattr(importlib.resources, "files", lambda _: tmp_path)
    with pytest.raises(ConfigurationError, match="reinstall rapidocr"):
        RapidTextReader().read(text_image(["x"]))


def test_the_engine_loads_once_per_reader() -> None:
    reader = RapidTextReader()
    engine = reader.load()
    reader.read(text_image(["once"]))
    assert reader.load() is engine


def test_words_without_boxes_share_the_line_box_by_characters() -> None:
    words = rapid_ocr._apportioned("ab cd", (0, 10, 50, 30), 0.9)
    assert [(w.text, w.box) for w in words] == [("ab", (0, 10, 20, 30)), ("cd", (30, 10, 50, 30))]


def test_a_job_without_an_image_is_a_classifier_error(classifier: ocr.OcrClassifier) -> None:
    with pytest.raises(ClassifierError, match="needs the job's image"):
        classifier(make_job(), None, NO_CONTEXT)




def test_build_chooses_rapidocr_without_vision_keys_and_azure_needs_them() -> None:
    built = ocr.build(services_with())
    assert built.name == "ocr" and built.needs_image
    assert isinstance(built._reader, RapidTextReader)
    with pytest.raises(ConfigurationError, match="VISION_ENDPOINT"):
        ocr.build(services_with(ocr="azure"))



@pytest.mark.parametrize("orientation", ["Up", "Right", "Down", "Left"])
def test_to_upright_is_the_inverse_of_to_original(orientation: str) -> None:
    forward, back = to_upright(orientation, 300, 200), to_original(orientation, 300, 200)
    for point in [(0.0, 0.0), (299.0, 10.0), (42.0, 199.0)]:
        assert back(forward(point)) == pytest.approx(point)


def large_page_with(label: str | None, size: int = 24) -> PIL.Image.Image:
    """A 3 MP grey photo, with a small dark label near its bottom-right corner when given."""
    image = PIL.Image.new("RGB", (2048, 1536), (200, 205, 200))
    if label:
        draw = PIL.ImageDraw.Draw(image)
        draw.text((1520, 1315), label, fill="black", font=PIL.ImageFont.truetype(str(dejavu_sans()), size))
    return image


def test_a_large_image_without_text_costs_one_coarse_pass() -> None:
    engine = RapidTextReader(threads=1).load()
    found = detect(engine.text_det, rapid_ocr._bgr(large_page_with(None)))
    assert found.boxes == [] and found.passes == ["coarse"] and found.fine_share == 0.0


def test_small_text_on_a_large_image_is_found_again_at_the_fine_scale(classifier: ocr.OcrClassifier) -> None:
    # 24 px letters: about 5 px in the coarse pass, too small to box there; the fine pass reads them.
    image = large_page_with("YAMAHA 42")
    engine = classifier._reader.load()  # type: ignore[attr-defined]
    found = detect(engine.text_det, rapid_ocr._bgr(image))
    assert "region" in found.passes and 0 < found.fine_share < 0.1
    output = classifier(make_job(), encode(image), NO_CONTEXT)
    assert output["OCR_fullText"] == "YAMAHA 42"
    [line] = lines_of(output)
    left, top, right, bottom = box(line["boundingBox"])
    assert 1500 <= left and right <= 1800 and 1300 <= top and bottom <= 1360
