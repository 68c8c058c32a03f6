"""generalclassification's people finder with the real YuNet detector: its cheap ``sure_faces`` pass."""

from __future__ import annotations

from typing import Any

import pytest

from classifiers.backends.local import yunet_faces
from classifiers.backends.local.dlib_faces import DlibFaceDetector, DlibModels
from classifiers.backends.local.people import PeopleFinder, SureFaces
from classifiers.backends.local.yunet_faces import YuNetFaceDetector
from tests.classifiers.images import ASTRONAUT_FACE, photo, resized

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def detector() -> YuNetFaceDetector:
    if not yunet_faces.yunet_available():
        pytest.skip("yuface has wheels for CPython 3.11 only (HOG runs instead)")
    return YuNetFaceDetector(models=DlibModels(threads=1))


def _center(face: dict[str, Any]) -> tuple[float, float]:
    r = face["faceRectangle"]
    return r["left"] + r["width"] / 2, r["top"] + r["height"] / 2


def test_sure_faces_gives_the_astronauts_face_without_landmarks(detector: YuNetFaceDetector) -> None:
    [face] = detector.sure_faces(photo("astronaut"))
    x, y = _center(face)
    left, top, right, bottom = ASTRONAUT_FACE
    assert left <= x <= right and top <= y <= bottom
    assert set(face) == {"faceRectangle", "confidence"} and face["confidence"] >= 0.85


def test_sure_faces_maps_boxes_of_a_large_photo_back_to_its_own_pixels(detector: YuNetFaceDetector) -> None:
    """A 2048 px astronaut: found on the 480 px copy, its box in the photo's pixels."""
    [face] = detector.sure_faces(resized(photo("astronaut"), 2048, 2048))
    x, y = _center(face)
    left, top, right, bottom = ASTRONAUT_FACE
    assert 4 * left <= x <= 4 * right and 4 * top <= y <= 4 * bottom


@pytest.mark.parametrize("name", ["coffee", "chelsea", "logo", "brick"])
def test_sure_faces_finds_none_in_a_cup_a_cat_a_logo_or_a_wall(detector: YuNetFaceDetector, name: str) -> None:
    assert detector.sure_faces(photo(name)) == []


def test_the_finder_counts_sure_faces_and_takes_worn_clothing_as_evidence(detector: YuNetFaceDetector) -> None:
    finder = PeopleFinder(faces=detector)
    assert isinstance(detector, SureFaces)
    found = finder.find(photo("astronaut"), worn=0.0)
    assert found.count == 1 and found.confidence >= 0.85
    cat = finder.find(photo("chelsea"), worn=0.3)
    assert (cat.count, cat.confidence) == (0, 0.3)
    assert not finder.find(photo("chelsea"), worn=0.1).present


def test_a_detector_without_sure_faces_runs_its_detect() -> None:
    finder = PeopleFinder(faces=DlibFaceDetector(models=DlibModels(threads=1)))
    assert finder.find(photo("astronaut"), worn=0.0).count == 1
