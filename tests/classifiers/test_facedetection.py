"""facedetection with the real detectors (dlib's HOG; YuNet checked by dlib's CNN) and 5-point landmarks
on scikit-image's photographs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import dlib
import PIL.Image
import pytest

from classifiers import facedetection
from classifiers.backends.local import yunet_faces
from classifiers.backends.local.dlib_faces import DlibFaceDetector, DlibModels
from classifiers.backends.local.yunet_faces import YuNetFaceDetector, make_local_detector
from pipeline.classifier import NO_CONTEXT
from pipeline.errors import ClassifierError, ConfigurationError
from pipeline.job import Job, parse_job
from tests.classifiers.images import ASTRONAUT_FACE, encode, photo, resized
from tests.classifiers.offline_services import services_with
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.models
needs_yuface = pytest.mark.skipif(not yunet_faces.yunet_available(),
                                  reason="yuface has wheels for CPython 3.11 only (HOG runs instead)")


def make_job(job_id: str = "job-faces") -> Job:
    return parse_job(job_message(job_id, ["facedetection", "faceprint"]))


@pytest.fixture(scope="module")
def classifier() -> facedetection.FaceDetectionClassifier:
    return facedetection.FaceDetectionClassifier(detector=DlibFaceDetector(models=DlibModels()))


def center(face: dict[str, Any]) -> tuple[float, float]:
    r = face["faceRectangle"]
    return r["left"] + r["width"] / 2, r["top"] + r["height"] / 2


def inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def test_the_astronauts_face_is_found_with_its_landmarks(classifier: facedetection.FaceDetectionClassifier) -> None:
    output = classifier(make_job(), photo("astronaut"), NO_CONTEXT)

    assert output["backend"] == "local"
    [face] = output["faces"]
    assert inside(center(face), ASTRONAUT_FACE)
    rect = face["faceRectangle"]
    assert 60 <= rect["width"] <= 160 and 60 <= rect["height"] <= 160
    assert 0.5 < face["confidence"] <= 1.0
    marks = face["faceLandmarks"]
    assert set(marks) == {"pupilLeft", "pupilRight", "noseTip", "eyeLeftOuter", "eyeLeftInner",
                          "eyeRightInner", "eyeRightOuter"}
    box = (rect["left"], rect["top"], rect["left"] + rect["width"], rect["top"] + rect["height"])
    assert all(inside((p["x"], p["y"]), box) for p in marks.values())
    # pupilLeft is the eye on the image's left, as in the Face API; the nose is below the eyes.
    assert marks["eyeLeftOuter"]["x"] < marks["pupilLeft"]["x"] < marks["eyeLeftInner"]["x"]
    assert marks["eyeRightInner"]["x"] < marks["pupilRight"]["x"] < marks["eyeRightOuter"]["x"]
    assert marks["pupilLeft"]["x"] < marks["noseTip"]["x"] < marks["pupilRight"]["x"]
    assert marks["noseTip"]["y"] > max(marks["pupilLeft"]["y"], marks["pupilRight"]["y"]) + 10


@pytest.mark.parametrize("name", ["camera", "coffee", "chelsea"])
def test_pictures_without_a_frontal_face_give_no_faces(
        classifier: facedetection.FaceDetectionClassifier, name: str) -> None:
    assert classifier(make_job(), photo(name), NO_CONTEXT) == {"faces": [], "backend": "local"}


def test_a_3_megapixel_picture_is_detected_on_a_smaller_copy_and_mapped_back(
        classifier: facedetection.FaceDetectionClassifier) -> None:
    # The astronaut three times larger, 400 px from the left of a 2048x1536 (3.1 MP) canvas.
    canvas = PIL.Image.new("RGB", (2048, 1536), "white")
    canvas.paste(photo("astronaut").pil.resize((1536, 1536), PIL.Image.Resampling.LANCZOS), (400, 0))
    faces = classifier(make_job(), encode(canvas, "JPEG"), NO_CONTEXT)["faces"]

    left, top, right, bottom = ASTRONAUT_FACE
    assert faces and inside(center(faces[0]), (400 + 3 * left, 3 * top, 400 + 3 * right, 3 * bottom))
    assert 180 <= faces[0]["faceRectangle"]["width"] <= 480
    pupil = faces[0]["faceLandmarks"]["pupilLeft"]
    assert inside((pupil["x"], pupil["y"]), (400 + 3 * left, 3 * top, 400 + 3 * right, 3 * bottom))


def test_a_small_picture_is_not_enlarged(classifier: facedetection.FaceDetectionClassifier) -> None:
    # At 640x640 the copy is the picture itself, so boxes are the detector's own pixels.
    faces = classifier(make_job(), resized(photo("astronaut"), 640, 640), NO_CONTEXT)["faces"]
    assert len(faces) == 1 and inside(center(faces[0]), tuple(v * 1.25 for v in ASTRONAUT_FACE))  # type: ignore[arg-type]


def test_a_face_cut_by_the_edge_has_its_box_clipped_to_the_picture(
        classifier: facedetection.FaceDetectionClassifier) -> None:
    cut = encode(photo("astronaut").pil.crop((190, 0, 512, 512)))
    [face] = classifier(make_job(), cut, NO_CONTEXT)["faces"]
    rect = face["faceRectangle"]
    assert rect["left"] == 0 and rect["width"] > 40
    assert rect["left"] + rect["width"] <= cut.width and rect["top"] + rect["height"] <= cut.height


def test_face_ids_are_uuids_that_depend_only_on_the_job_and_position(
        classifier: facedetection.FaceDetectionClassifier) -> None:
    image = photo("astronaut")
    first = classifier(make_job("job-a"), image, NO_CONTEXT)["faces"]
    again = classifier(make_job("job-a"), image, NO_CONTEXT)["faces"]
    other = classifier(make_job("job-b"), image, NO_CONTEXT)["faces"]
    assert first == again
    assert first[0]["faceId"] != other[0]["faceId"]
    assert uuid.UUID(first[0]["faceId"]).version == 5


def test_the_models_load_once_per_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = []
    real = dlib.get_frontal_face_detector

    def counting() -> Any:
        loads.append(1)
        return real()

    monkeypatch.setattr(dlib, "get_frontal_face_detector", counting)
    detector = DlibFaceDetector(models=DlibModels())
    assert loads == []  # nothing loads before the first job
    for _ in range(3):
        detector.detect(photo("astronaut"), make_job())
    assert loads == [1]


def test_a_job_without_an_image_is_a_classifier_error(classifier: facedetection.FaceDetectionClassifier) -> None:
    with pytest.raises(ClassifierError, match="needs the job's image"):
        classifier(make_job(), None, NO_CONTEXT)




@needs_yuface
def test_build_chooses_yunet_without_face_keys_and_azure_needs_them() -> None:
    built = facedetection.build(services_with())
    assert built.name == "facedetection" and built.needs_image
    assert isinstance(built._detector, YuNetFaceDetector)
    with pytest.raises(ConfigurationError, match="FACE_ENDPOINT"):
        facedetection.build(services_with(facedetection="azure"))


def test_output_is_json_ready(classifier: facedetection.FaceDetectionClassifier) -> None:
    output = classifier(make_job(), photo("astronaut"), NO_CONTEXT)
    assert json.loads(json.dumps(output)) == output


def test_several_threads_share_one_detector_safely(classifier: facedetection.FaceDetectionClassifier) -> None:
    """The host runs batchSize messages at once; dlib's detector crashed the process when shared unguarded."""
    from concurrent.futures import ThreadPoolExecutor

    pictures = [photo("astronaut"), photo("coffee"), photo("chelsea"), photo("astronaut")] * 3
    expected = [len(classifier(make_job(), p, NO_CONTEXT)["faces"]) for p in pictures[:4]] * 3
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda p: len(classifier(make_job(), p, NO_CONTEXT)["faces"]), pictures))
    assert found == expected == [1, 0, 0, 1] * 3


@pytest.fixture(scope="module")
def yunet() -> facedetection.FaceDetectionClassifier:
    if not yunet_faces.yunet_available():
        pytest.skip("yuface has wheels for CPython 3.11 only (HOG runs instead)")
    return facedetection.FaceDetectionClassifier(detector=YuNetFaceDetector(models=DlibModels()))


def test_yunet_finds_the_cameramans_turned_face_that_hog_misses(
        yunet: facedetection.FaceDetectionClassifier, classifier: facedetection.FaceDetectionClassifier) -> None:
    assert classifier(make_job(), photo("camera"), NO_CONTEXT)["faces"] == []
    [face] = yunet(make_job(), photo("camera"), NO_CONTEXT)["faces"]
    assert inside(center(face), (180, 100, 270, 200))  # his head, behind the camera's eyepiece
    assert 0.5 < face["confidence"] <= 1.0
    rect = face["faceRectangle"]
    assert abs(rect["width"] - rect["height"]) <= 1  # square, the size dlib's landmarks expect
    assert set(face["faceLandmarks"]) >= {"pupilLeft", "pupilRight", "noseTip"}


def test_yunet_finds_the_astronaut_as_hog_does(yunet: facedetection.FaceDetectionClassifier) -> None:
    [face] = yunet(make_job(), photo("astronaut"), NO_CONTEXT)["faces"]
    assert inside(center(face), ASTRONAUT_FACE)


@pytest.mark.parametrize("name", ["coffee", "chelsea", "logo", "brick"])
def test_yunet_finds_no_face_in_a_cup_a_cat_a_logo_or_a_wall(
        yunet: facedetection.FaceDetectionClassifier, name: str) -> None:
    assert yunet(make_job(), photo(name), NO_CONTEXT)["faces"] == []


def test_an_unsure_yunet_candidate_without_a_face_is_dropped_by_the_cnn() -> None:
    """At its own 741 px YuNet scores the motorcycle's headlight 0.75; dlib's CNN, shown a crop around it, finds
    no face."""
    from skimage import data

    left, _, _ = data.stereo_motorcycle()
    picture = encode(left)
    checking = facedetection.FaceDetectionClassifier(detector=YuNetFaceDetector(models=DlibModels(), max_side=800))
    assert checking(make_job(), picture, NO_CONTEXT)["faces"] == []
    trusting = facedetection.FaceDetectionClassifier(
        detector=YuNetFaceDetector(models=DlibModels(), max_side=800, sure=0.7))
    assert len(trusting(make_job(), picture, NO_CONTEXT)["faces"]) == 1


def test_a_small_face_of_a_large_photo_is_found_on_the_640_px_copy(
        yunet: facedetection.FaceDetectionClassifier) -> None:
    """The cameraman's turned face, 70 px, is 280 px in a 2048 px copy: YuNet finds it on its 640 px copy."""
    [face] = yunet(make_job(), resized(photo("camera"), 2048, 2048), NO_CONTEXT)["faces"]
    assert inside(center(face), (4 * 180, 4 * 100, 4 * 270, 4 * 200))


def test_without_yuface_the_local_detector_falls_back_to_hog_and_says_so(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(yunet_faces, "yunet_available", lambda: False)
    detector = make_local_detector(DlibModels())
    assert type(detector) is DlibFaceDetector
    assert "falls back to dlib's HOG" in caplog.text


def test_several_threads_share_one_yunet_detector_safely(yunet: facedetection.FaceDetectionClassifier) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pictures = [photo("astronaut"), photo("camera"), photo("chelsea"), photo("astronaut")] * 3
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda p: len(yunet(make_job(), p, NO_CONTEXT)["faces"]), pictures))
    assert found == [1, 1, 0, 1] * 3
