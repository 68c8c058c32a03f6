"""dlib's CNN face detector converted to ONNX: the same verdicts as dlib-bin on face and non-face chips."""

from __future__ import annotations

from pathlib import Path

import face_recognition_models
import numpy as np
import PIL.Image
import pytest

from classifiers.backends.local.dlib_faces import DlibModels
from classifiers.backends.local.dlib_mmod_onnx import MmodChecker, build_onnx, read_layers
from pipeline.errors import ConfigurationError
from tests.classifiers.images import ASTRONAUT_FACE, photo

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def models() -> DlibModels:
    return DlibModels(threads=1)


def _chip(name: str, box: tuple[int, int, int, int]) -> np.ndarray:
    """The face-check chip around ``box`` (left, top, right, bottom): twice its size, 200 px."""
    left, top, right, bottom = box
    side = right - left
    crop = photo(name).pil.crop((left - side // 2, top - side // 2, right + side // 2, bottom + side // 2))
    return np.asarray(crop.resize((200, 200), PIL.Image.Resampling.BILINEAR))


def test_the_file_reads_as_six_folded_layers_and_a_score_map() -> None:
    data = Path(face_recognition_models.cnn_face_detector_model_location()).read_bytes()
    layers = read_layers(data)
    assert [layer.weights.shape[0] for layer in layers if layer.kind == "C"] == [16, 32, 32, 45, 45, 45, 1]


def test_a_face_chip_scores_above_zero_as_dlib_finds_it(models: DlibModels) -> None:
    chip = _chip("astronaut", ASTRONAUT_FACE)
    [found] = models.cnn(chip, 0)
    assert models.checker.score(chip) == pytest.approx(found.confidence, abs=0.1)
    assert models.checker.score(chip) > 0


@pytest.mark.parametrize(("name", "box"), [("coffee", (200, 100, 300, 200)), ("chelsea", (100, 50, 200, 150)),
                                           ("brick", (150, 150, 250, 250))])
def test_chips_without_a_face_score_below_zero_as_dlib_finds_none(
        models: DlibModels, name: str, box: tuple[int, int, int, int]) -> None:
    chip = _chip(name, box)
    assert len(models.cnn(chip, 0)) == 0
    assert models.checker.score(chip) < 0


def test_another_file_is_a_configuration_error() -> None:
    resnet = Path(face_recognition_models.face_recognition_model_location()).read_bytes()
    with pytest.raises(ConfigurationError, match="cannot be read"):
        build_onnx(resnet)
    with pytest.raises(ConfigurationError):
        MmodChecker(data=b"\x01\x01\x01\nloss_mmod_" + bytes(100))
