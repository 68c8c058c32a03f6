"""Bounded face work: facedetection keeps at most MAX_FACES_PER_IMAGE faces, facematch takes at most that
many from a forged faceprint output and refuses prints a float32 index cannot hold."""

from __future__ import annotations

from typing import Any

import pytest

from classifiers import facedetection, facematch
from classifiers.backends.local.face_matcher import LocalFaceMatcher
from classifiers.backends.local.face_store import FaceStore
from classifiers.backends.local.table_face_index import TableFaceIndex
from classifiers.face_limits import cap, check_prints
from pipeline.classifier import NO_CONTEXT
from pipeline.errors import ClassifierError
from pipeline.images import Image, decode_image
from pipeline.job import Job, parse_job
from pipeline.services import Services
from tests.pipeline.helpers import job_message
from tests.pipeline.images.test_images import png

RECT = {"left": 1, "top": 2, "width": 30, "height": 30}


class ManyFaces:
    """A detector that finds ``n`` faces (a crowd, or a bomb of tiny ones)."""

    backend = "local"

    def __init__(self, n: int) -> None:
        self.n = n

    def detect(self, image: Image, job: Job) -> list[dict[str, Any]]:
        return [{"faceId": f"f{i}", "faceRectangle": RECT, "confidence": 0.9} for i in range(self.n)]


def test_facedetection_keeps_at_most_the_cap_and_says_so() -> None:
    image = decode_image(png(40, 40))
    job = parse_job(job_message("job", ["facedetection"]))
    output = facedetection.FaceDetectionClassifier(detector=ManyFaces(250), max_faces=100)(job, image, NO_CONTEXT)
    assert len(output["faces"]) == 100 and output["faces_capped"] == {"limit": 100, "found": 250}
    output = facedetection.FaceDetectionClassifier(detector=ManyFaces(3), max_faces=100)(job, image, NO_CONTEXT)
    assert len(output["faces"]) == 3 and "faces_capped" not in output


def printed(*prints: Any) -> list[dict[str, Any]]:
    return [{"faceId": f"p{i}", "faceRectangle": RECT, "print": p} for i, p in enumerate(prints)]


@pytest.mark.parametrize("vector, reason", [
    ([1e39] + [0.0] * 127, r"1e\+39 is not finite in float32"),
    ([10**400] + [0.0] * 127, "is not finite in float32"),
    ([float("nan")] + [0.0] * 127, "nan is not finite"),
    ([0.1] * 127, "must be 128 finite numbers or a faceId, not 127"),
    ([True] * 128, "True is not finite"),
    ({"x": 1}, "not dict"),
    ("", "not a usable Face service faceId"),
])
def test_prints_that_a_float32_index_cannot_hold_are_refused(vector: Any, reason: str) -> None:
    with pytest.raises(ClassifierError, match=reason):
        check_prints(printed([0.0] * 128, vector), "faceprint")
    check_prints(printed([3.0e38] * 128, "0b6a7c34-5f2e-4e7b-9d4a-1c2f3e4d5a6b"), "faceprint")


def test_cap_cuts_only_past_the_limit() -> None:
    assert cap([1, 2, 3], 3) == ([1, 2, 3], {})
    assert cap(list(range(1000)), 10) == (list(range(10)), {"faces_capped": {"limit": 10, "found": 1000}})


@pytest.mark.azurite
def test_facematch_takes_at_most_the_cap_from_a_forged_faceprint_output(services: Services, unique: str) -> None:
    index = TableFaceIndex(store=FaceStore(table=services.storage.table(f"faces{unique}")),
                           lock_container=services.storage.container(f"lock{unique}"))
    matcher = LocalFaceMatcher(index=index, threshold=0.6)
    classifier = facematch.FacematchClassifier(matcher=matcher, max_faces=5)
    faces = printed(*([0.01 * i] * 128 for i in range(30)))
    job = parse_job(job_message(f"job{unique}", ["faceprint", "facematch"], step=1,
                                output={"faceprint": {"faces": faces}}))
    output = classifier(job, None, NO_CONTEXT)
    assert len(output["matches"]) == 5 and output["faces_capped"] == {"limit": 5, "found": 30}
    with pytest.raises(ClassifierError, match="not finite in float32"):
        classifier(parse_job(job_message(f"bad{unique}", ["faceprint", "facematch"], step=1,
                                         output={"faceprint": {"faces": printed([1e39] * 128)}})), None, NO_CONTEXT)
