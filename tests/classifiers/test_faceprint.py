"""faceprint with dlib's real ResNet descriptor: one person stays within 0.6, others do not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dlib
import face_recognition_models
import numpy as np
import PIL.Image
import PIL.ImageEnhance
import pytest
from skimage import data

from classifiers import facedetection, faceprint
from classifiers.backends.local.dlib_faces import DlibFaceDetector, DlibFacePrinter, DlibModels
from classifiers.backends.local.dlib_resnet_onnx import build_onnx
from pipeline.classifier import NO_CONTEXT
from pipeline.errors import ClassifierError, ConfigurationError, MissingDependencyError
from pipeline.images import Image
from pipeline.job import Job, parse_job
from tests.classifiers.images import encode, photo
from tests.classifiers.offline_services import services_with
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.models

SAME_PERSON = 0.5  # FACE_MATCH_THRESHOLD's default, chosen from bench/quality_faces.py --distances


def make_job(output: dict[str, Any] | None = None, job_id: str = "job-print") -> Job:
    return parse_job(job_message(job_id, ["facedetection", "faceprint"], step=1, output=output))


@pytest.fixture(scope="module")
def models() -> DlibModels:
    return DlibModels()


@pytest.fixture(scope="module")
def detect(models: DlibModels) -> facedetection.FaceDetectionClassifier:
    return facedetection.FaceDetectionClassifier(detector=DlibFaceDetector(models=models))


@pytest.fixture(scope="module")
def printer(models: DlibModels) -> faceprint.FacePrintClassifier:
    return faceprint.FacePrintClassifier(printer=DlibFacePrinter(models=models))


def prints_of(image: Image, detection: dict[str, Any], printer: faceprint.FacePrintClassifier) -> list[np.ndarray]:
    output = printer(make_job({"facedetection": detection}), image, NO_CONTEXT)
    return [np.asarray(face["print"]) for face in output["faces"]]


def only_print(image: Image, detect: facedetection.FaceDetectionClassifier,
               printer: faceprint.FacePrintClassifier) -> np.ndarray:
    [vector] = prints_of(image, detect(make_job(), image, NO_CONTEXT), printer)
    return vector


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def test_each_detected_face_gets_a_128_number_print(
        detect: facedetection.FaceDetectionClassifier, printer: faceprint.FacePrintClassifier) -> None:
    image = photo("astronaut")
    detection = detect(make_job(), image, NO_CONTEXT)
    output = printer(make_job({"facedetection": detection}), image, NO_CONTEXT)

    assert output["backend"] == "local"
    [face] = output["faces"]
    assert set(face) == {"faceId", "faceRectangle", "print"}
    assert face["faceId"] == detection["faces"][0]["faceId"]
    assert face["faceRectangle"] == detection["faces"][0]["faceRectangle"]
    assert len(face["print"]) == 128
    assert all(isinstance(v, float) and round(v, 6) == v for v in face["print"])
    assert 0.1 < float(np.linalg.norm(face["print"])) < 10  # a real embedding, not zeros
    assert json.loads(json.dumps(output)) == output


def test_the_same_face_cropped_scaled_and_brighter_stays_within_the_threshold(
        detect: facedetection.FaceDetectionClassifier, printer: faceprint.FacePrintClassifier) -> None:
    original = photo("astronaut")
    changed = PIL.ImageEnhance.Brightness(original.pil.crop((60, 0, 420, 360)).resize((480, 480))).enhance(1.3)
    mirrored = original.pil.transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT)

    reference = only_print(original, detect, printer)
    assert distance(reference, only_print(encode(changed, "JPEG"), detect, printer)) < SAME_PERSON
    assert distance(reference, only_print(encode(mirrored), detect, printer)) < SAME_PERSON


def test_other_people_are_beyond_the_threshold(models: DlibModels, detect: facedetection.FaceDetectionClassifier,
                                               printer: faceprint.FacePrintClassifier) -> None:
    reference = only_print(photo("astronaut"), detect, printer)
    # The cameraman's small face is only found below the detector's usual threshold.
    cameraman = photo("camera")
    low = facedetection.FaceDetectionClassifier(detector=DlibFaceDetector(models=models, threshold=-0.6))
    others = [only_print(cameraman, low, printer)]
    # Three faces of Labeled Faces in the Wild (25x25 crops in scikit-image), enlarged.
    lfw = data.lfw_subset()
    for index in (0, 34, 51):
        small = PIL.Image.fromarray((lfw[index] * 255).astype(np.uint8))
        face = encode(small.resize((200, 200), PIL.Image.Resampling.BICUBIC))
        whole = {"faces": [{"faceId": f"lfw-{index}", "faceRectangle": {"left": 0, "top": 0, "width": 200,
                                                                        "height": 200}}]}
        others.extend(prints_of(face, whole, printer))
    assert len(others) == 4
    assert all(distance(reference, other) > SAME_PERSON for other in others), \
        [distance(reference, other) for other in others]


def test_prints_are_dlibs_own_descriptors(detect: facedetection.FaceDetectionClassifier,
                                          printer: faceprint.FacePrintClassifier) -> None:
    # The ResNet runs on onnxruntime from weights read out of dlib's file; dlib itself is the reference.
    group = parse_job(job_message("group", ["facedetection"]))
    canvas = PIL.Image.new("RGB", (1100, 520), "white")
    canvas.paste(photo("astronaut").pil, (0, 0))
    canvas.paste(photo("astronaut").pil.resize((400, 400)).transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT), (600, 60))
    image = encode(canvas)
    detection = detect(group, image, NO_CONTEXT)
    assert len(detection["faces"]) == 2
    ours = prints_of(image, detection, printer)

    reference = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    shapes = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    for face, vector in zip(detection["faces"], ours, strict=True):
        r = face["faceRectangle"]
        rect = dlib.rectangle(r["left"], r["top"], r["left"] + r["width"] - 1, r["top"] + r["height"] - 1)
        expected = np.asarray(reference.compute_face_descriptor(image.rgb, shapes(image.rgb, rect)))
        assert np.abs(vector - expected).max() < 1e-4


def test_a_file_that_is_not_the_resnet_is_refused() -> None:
    shape_model = Path(face_recognition_models.pose_predictor_five_point_model_location()).read_bytes()
    with pytest.raises(ConfigurationError, match="cannot be read"):
        build_onnx(shape_model)


def test_no_faces_give_no_prints(printer: faceprint.FacePrintClassifier) -> None:
    assert printer(make_job({"facedetection": {"faces": []}}), photo("coffee"),
                   NO_CONTEXT) == {"faces": [], "backend": "local"}


@pytest.mark.parametrize("output", [{}, {"facedetection": {"backend": "local"}}, {"facedetection": "oops"},
                                    {"ocr": {"faces": []}}])
def test_without_facedetection_output_it_says_what_is_missing(
        printer: faceprint.FacePrintClassifier, output: dict[str, Any]) -> None:
    with pytest.raises(MissingDependencyError, match="faceprint needs the output of facedetection"):
        printer(make_job(output), photo("astronaut"), NO_CONTEXT)


@pytest.mark.parametrize("face", [{"faceId": "x"}, {"faceRectangle": {"left": "a"}},
                                  {"faceRectangle": {"left": 900, "top": 0, "width": 10, "height": 10}}])
def test_an_unusable_face_rectangle_is_a_classifier_error(printer: faceprint.FacePrintClassifier,
                                                         face: dict[str, Any]) -> None:
    with pytest.raises(ClassifierError, match=r"facedetection faces\[0\]"):
        printer(make_job({"facedetection": {"faces": [face]}}), photo("astronaut"), NO_CONTEXT)


def test_a_face_without_an_id_gets_a_deterministic_one(printer: faceprint.FacePrintClassifier) -> None:
    detection = {"faces": [{"faceRectangle": {"left": 179, "top": 83, "width": 88, "height": 88}}]}
    first = printer(make_job({"facedetection": detection}), photo("astronaut"), NO_CONTEXT)["faces"][0]["faceId"]
    again = printer(make_job({"facedetection": detection}), photo("astronaut"), NO_CONTEXT)["faces"][0]["faceId"]
    assert first == again and len(first) == 36




def test_build_chooses_dlib_without_face_keys_and_azure_needs_them() -> None:
    built = faceprint.build(services_with())
    assert built.name == "faceprint" and built.needs_image
    assert isinstance(built._printer, DlibFacePrinter)
    with pytest.raises(ConfigurationError, match="FACE_ENDPOINT"):
        faceprint.build(services_with(faceprint="azure"))


def test_forged_faces_are_capped_and_printed_in_batches(models: DlibModels) -> None:
    class Counting(DlibFacePrinter):
        sizes: list[int] = []

        def prints(self, image: Image, faces: Any, job: Job) -> list[dict[str, Any]]:
            self.sizes.append(len(faces))
            return super().prints(image, faces, job)

    counting = Counting(models=models)
    classifier = faceprint.FacePrintClassifier(printer=counting, max_faces=40)
    image = photo("astronaut")
    forged = [{"faceRectangle": {"left": i, "top": i, "width": 60, "height": 60}} for i in range(1000)]
    output = classifier(make_job({"facedetection": {"faces": forged}}), image, NO_CONTEXT)
    assert len(output["faces"]) == 40 and output["faces_capped"] == {"limit": 40, "found": 1000}
    assert max(counting.sizes) <= 16 and sum(counting.sizes) == 40
    assert len({face["faceId"] for face in output["faces"]}) == 40  # ids stay unique across batches
