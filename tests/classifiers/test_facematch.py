"""facematch against a real Azurite table, with real dlib prints where it matters."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from classifiers import facematch
from classifiers.backends.face_index import person_for_face
from classifiers.backends.local.face_index import FaceIndex, StoredFace
from classifiers.backends.local.face_matcher import LocalFaceMatcher, confidence
from classifiers.backends.local.face_store import FaceStore, partition_for
from classifiers.backends.local.table_face_index import TableFaceIndex
from pipeline.classifier import NO_CONTEXT
from pipeline.errors import ClassifierError, ConfigurationError, MissingDependencyError
from pipeline.job import Job, parse_job
from pipeline.services import Services

RECT_A = {"left": 10, "top": 20, "width": 30, "height": 40}
RECT_B = {"left": 1, "top": 2, "width": 3, "height": 4}


def unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(128)
    return v / np.linalg.norm(v)


def at_distance(v: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    """A print exactly ``distance`` away from ``v``."""
    step = rng.standard_normal(128)
    return v + distance * step / np.linalg.norm(step)


def face(face_id: str, vector: np.ndarray, rect: dict[str, int] = RECT_A) -> dict[str, Any]:
    return {"faceId": face_id, "faceRectangle": rect, "print": [float(x) for x in vector]}


def job(job_id: str, faces: list[dict[str, Any]] | None, *, url: str = "", batch: str = "b1") -> Job:
    output = {} if faces is None else {"faceprint": {"faces": faces, "backend": "local"}}
    return parse_job({
        "job_definition": {
            "id": job_id, "batch_id": batch,
            "input": {"image_url": url or f"https://images.example/{job_id}.jpg"},
            "processing_pipeline": ["faceprint", "facematch"], "processing_step": 1,
        },
        "job_output": output,
    })


_LOCKS: dict[str, Any] = {}  # the lock container of the current test: shared by its "workers"


@pytest.fixture(autouse=True)
def _lock_container(request: pytest.FixtureRequest, unique: str) -> None:
    if request.node.get_closest_marker("azurite"):
        _LOCKS["container"] = request.getfixturevalue("services").storage.container(f"lock{unique}")


def classifier(store: FaceStore, threshold: float = 0.6) -> facematch.FacematchClassifier:
    index = TableFaceIndex(store=store, lock_container=_LOCKS["container"])
    return facematch.FacematchClassifier(matcher=LocalFaceMatcher(index=index, threshold=threshold))


@pytest.fixture
def rng(unique: str) -> np.random.Generator:
    return np.random.default_rng(int(unique, 16))


@pytest.fixture
def table_name(unique: str) -> str:
    return f"faces{unique}"


@pytest.fixture
def store(services: Services, table_name: str) -> FaceStore:
    return FaceStore(table=services.storage.table(table_name), refresh_interval=0)


# --- the index alone -----------------------------------------------------------------------------


def test_confidence_is_one_for_identical_prints_and_half_at_the_threshold() -> None:
    assert confidence(0.0, 0.6) == 1.0
    assert confidence(0.6, 0.6) == 0.5
    assert confidence(0.3, 0.6) == 0.75
    assert confidence(5.0, 0.6) == 0.0


def test_index_returns_nearest_first_limited_and_without_the_excluded_job() -> None:
    rng = np.random.default_rng(1)
    index = FaceIndex()
    query = unit(rng)
    for i, d in enumerate([0.5, 0.1, 0.3, 0.2, 0.9]):
        index.add([StoredFace(face_id=f"f{i}", job_id=f"j{i}", batch_id="b", image_url=f"u{i}",
                              face_rectangle=(i, i, 1, 1), print=at_distance(query, d, rng).astype(np.float32))])
    index.add([StoredFace(face_id="mine", job_id="me", batch_id="b", image_url="u",
                          face_rectangle=(0, 0, 1, 1), print=query.astype(np.float32))])
    [hits] = index.search(query[None, :], threshold=0.6, limit=3, exclude_job="me", exclude_batch="b")
    assert [h.face_id for h in hits] == ["f1", "f3", "f2"]
    assert [round(h.distance, 4) for h in hits] == [0.1, 0.2, 0.3]
    assert hits[0].image_url == "u1" and hits[0].face_rectangle == (1, 1, 1, 1)
    [with_mine] = index.search(query[None, :], threshold=0.6, limit=10)
    assert [h.face_id for h in with_mine] == ["mine", "f1", "f3", "f2", "f0"]


def test_index_finds_faces_past_the_first_chunk() -> None:
    rng = np.random.default_rng(2)
    n = 70_000  # more than one 65,536-row chunk
    prints = rng.standard_normal((n, 128)).astype(np.float32)
    prints /= np.linalg.norm(prints, axis=1, keepdims=True)
    index = FaceIndex()
    index.add_arrays(face_ids=[f"s{i}" for i in range(n)], prints=prints, job_id="synthetic",
                     batch_id="b", image_url="u", rectangles=np.zeros((n, 4), dtype=np.int32))
    for target in (3, 65_535, 65_536, 69_999):
        [hits] = index.search(prints[target][None, :], threshold=0.6, limit=5)
        assert [h.face_id for h in hits] == [f"s{target}"]
    assert len(index) == n


# --- the classifier against Azurite ---------------------------------------------------------------


@pytest.mark.azurite
def test_second_job_with_the_same_print_matches_the_first(store: FaceStore, rng: np.random.Generator) -> None:
    facematch_ = classifier(store)
    v = unit(rng)
    first = facematch_(job("job-1", [face("face-1", v, RECT_A)]), None, NO_CONTEXT)
    assert first["matches"] == [{"faceId": "face-1", "faceRectangle": RECT_A, "matches": [],
                                 "person_id": person_for_face("face-1")}]
    assert set(first) == {"matches", "confidence_meaning", "backend"}

    second = facematch_(job("job-2", [face("face-2", v, RECT_B)]), None, NO_CONTEXT)
    assert second["matches"] == [{
        "faceId": "face-2", "faceRectangle": RECT_B, "person_id": person_for_face("face-1"),
        "matches": [{"id": "face-1", "image_url": "https://images.example/job-1.jpg",
                     "face_rectangle": RECT_A, "confidence": 1.0}],
    }]


@pytest.mark.azurite
def test_matches_are_sorted_by_confidence_and_far_prints_do_not_match(
    store: FaceStore, rng: np.random.Generator
) -> None:
    facematch_ = classifier(store)
    v = unit(rng)
    facematch_(job("job-near", [face("near", at_distance(v, 0.2, rng))]), None, NO_CONTEXT)
    facematch_(job("job-nearer", [face("nearer", at_distance(v, 0.05, rng))]), None, NO_CONTEXT)
    facematch_(job("job-far", [face("far", at_distance(v, 0.9, rng))]), None, NO_CONTEXT)

    [result] = facematch_(job("job-q", [face("q", v)]), None, NO_CONTEXT)["matches"]
    assert [m["id"] for m in result["matches"]] == ["nearer", "near"]
    assert [m["confidence"] for m in result["matches"]] == [confidence(0.05, 0.6), confidence(0.2, 0.6)]

    [alone] = facematch_(job("job-other", [face("other", unit(rng))]), None, NO_CONTEXT)["matches"]
    assert alone["matches"] == []


@pytest.mark.azurite
def test_threshold_comes_from_the_settings(services: Services, rng: np.random.Generator, unique: str) -> None:
    v = unit(rng)
    strict = facematch.build(replace(services, settings=replace(services.settings, face_match_threshold=0.3)))
    strict(job(f"t1-{unique}", [face(f"t1-{unique}", v)]), None, NO_CONTEXT)
    [near] = strict(job(f"t2-{unique}", [face(f"t2-{unique}", at_distance(v, 0.45, rng))]), None, NO_CONTEXT)["matches"]
    assert near["matches"] == []

    default = facematch.build(services)  # another worker, threshold 0.5
    assert services.settings.face_match_threshold == 0.5
    [loose] = default(job(f"t3-{unique}", [face(f"t3-{unique}", at_distance(v, 0.45, rng))]), None,
                      NO_CONTEXT)["matches"]
    assert f"t1-{unique}" in [m["id"] for m in loose["matches"]]


@pytest.mark.azurite
def test_redelivered_job_neither_matches_itself_nor_duplicates_rows(
    services: Services, store: FaceStore, table_name: str, rng: np.random.Generator
) -> None:
    v, w = unit(rng), unit(rng)
    message = job("job-r", [face("r1", v), face("r2", w, RECT_B)])
    first = classifier(store)(message, None, NO_CONTEXT)
    again = classifier(store)(message, None, NO_CONTEXT)
    elsewhere = classifier(FaceStore(table=services.storage.table(table_name), refresh_interval=0))(message, None,
                                                                                                  NO_CONTEXT)
    assert first == again == elsewhere
    assert all(f["matches"] == [] for f in first["matches"])
    rows = list(services.storage.table(table_name).list_entities())
    assert sorted(r["RowKey"] for r in rows) == ["r1", "r2"]

    [later] = classifier(store)(job("job-s", [face("s1", v)]), None, NO_CONTEXT)["matches"]
    assert [m["id"] for m in later["matches"]] == ["r1"]


@pytest.mark.azurite
def test_another_worker_sees_new_faces_after_its_incremental_load(
    services: Services, table_name: str, rng: np.random.Generator
) -> None:
    worker_a = FaceStore(table=services.storage.table(table_name), refresh_interval=0)
    worker_b = FaceStore(table=services.storage.table(table_name), refresh_interval=0, overlap=timedelta(0))
    v = unit(rng)
    classifier(worker_a)(job("job-a0", [face("a0", unit(rng))]), None, NO_CONTEXT)
    classifier(worker_a)(job("job-a00", [face("a00", unit(rng))]), None, NO_CONTEXT)
    assert worker_b.refresh() == 2  # the first load reads everything

    classifier(worker_a)(job("job-a1", [face("a1", v)]), None, NO_CONTEXT)
    # A row in an old partition is out of the incremental range: only a full load reads it.
    old = {"PartitionKey": "2020-01-01T00", "RowKey": "old", "image_url": "u", "job_id": "j-old",
           "batch_id": "b", "face_rectangle": json.dumps(RECT_A), "print": unit(rng).astype("<f4").tobytes()}
    services.storage.table(table_name).upsert_entity(old)

    [result] = classifier(worker_b)(job("job-b", [face("b1", v)]), None, NO_CONTEXT)["matches"]
    assert [m["id"] for m in result["matches"]] == ["a1"]
    # With no overlap it re-reads only the newest row it had (Timestamp ge), not a0.
    assert worker_b.rows_read <= 2
    assert "old" not in worker_b.index and len(worker_b) == 4  # a0, a00, a1 and its own b1
    fresh = FaceStore(table=services.storage.table(table_name))
    assert fresh.refresh() == 5


@pytest.mark.azurite
def test_a_matcher_refreshes_before_every_search_whatever_the_refresh_interval(
    services: Services, table_name: str, rng: np.random.Generator
) -> None:
    worker_a = FaceStore(table=services.storage.table(table_name))
    worker_b = FaceStore(table=services.storage.table(table_name), refresh_interval=3600)
    v = unit(rng)
    classifier(worker_b)(job("job-b0", [face("b0", unit(rng))]), None, NO_CONTEXT)  # the first load
    classifier(worker_a)(job("job-a", [face("a", v)]), None, NO_CONTEXT)
    [seen] = classifier(worker_b)(job("job-b1", [face("b1", v)]), None, NO_CONTEXT)["matches"]
    assert [m["id"] for m in seen["matches"]] == ["a"]  # a second ago would have been missed before
    assert seen["person_id"] == person_for_face("a")


@pytest.mark.azurite
def test_stored_row_has_the_documented_shape(
    services: Services, store: FaceStore, table_name: str, rng: np.random.Generator
) -> None:
    v = unit(rng)
    before = partition_for(datetime.now(UTC))
    classifier(store)(job("job-shape", [face("shape-1", v, RECT_B)], url="https://x/y.png", batch="b9"), None,
                      NO_CONTEXT)
    [row] = list(services.storage.table(table_name).list_entities())
    assert row["PartitionKey"] in (before, partition_for(datetime.now(UTC)))
    assert row["RowKey"] == "shape-1"
    assert (row["image_url"], row["job_id"], row["batch_id"]) == ("https://x/y.png", "job-shape", "b9")
    assert json.loads(row["face_rectangle"]) == RECT_B
    assert isinstance(row["print"], bytes) and len(row["print"]) == 512
    np.testing.assert_array_equal(np.frombuffer(row["print"], dtype="<f4"), v.astype(np.float32))


@pytest.mark.azurite
def test_job_without_faces_stores_nothing(services: Services, store: FaceStore, table_name: str) -> None:
    output = classifier(store)(job("job-empty", []), None, NO_CONTEXT)
    assert output["matches"] == [] and output["backend"] == "local"
    assert list(services.storage.table(table_name).list_entities()) == []


@pytest.mark.azurite
def test_missing_or_unusable_faceprint_output_is_a_clear_error(store: FaceStore) -> None:
    with pytest.raises(MissingDependencyError, match="faceprint"):
        classifier(store)(job("job-m", None), None, NO_CONTEXT)
    with pytest.raises(ClassifierError, match="Face service faceId"):
        classifier(store)(job("job-m", [{"faceId": "x", "faceRectangle": RECT_A, "print": "abc-123"}]), None,
                          NO_CONTEXT)
    with pytest.raises(ClassifierError, match="128 finite numbers"):
        classifier(store)(job("job-m", [{"faceId": "x", "faceRectangle": RECT_A, "print": [0.1] * 5}]), None,
                          NO_CONTEXT)
    with pytest.raises(ClassifierError, match="face id"):
        classifier(store)(job("job-m", [{"faceId": "a/b", "faceRectangle": RECT_A, "print": [0.1] * 128}]), None,
                          NO_CONTEXT)


@pytest.mark.azurite
def test_the_azure_backend_without_keys_is_a_clear_configuration_error(services: Services) -> None:
    settings = replace(services.settings, backends={"facematch": "azure"})
    with pytest.raises(ConfigurationError, match="FACE_ENDPOINT.*FACEMATCH_BACKEND=local"):
        facematch.build(replace(services, settings=settings))


# --- a real face -----------------------------------------------------------------------------------


def _real_print(rgb: np.ndarray) -> tuple[dict[str, int], list[float]]:
    """The dlib print of the top-most face (the astronaut's; dlib also finds a patch on her suit)."""
    import dlib
    import face_recognition_models as models

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    rgb = np.ascontiguousarray(rgb)
    box = min(detector(rgb, 1), key=lambda r: r.top())
    rect = {"left": box.left(), "top": box.top(), "width": box.width(), "height": box.height()}
    return rect, list(net.compute_face_descriptor(rgb, shapes(rgb, box)))


@pytest.mark.azurite
@pytest.mark.models
def test_real_face_matches_the_same_person_in_a_smaller_photo(store: FaceStore) -> None:
    from PIL import Image
    from skimage import data

    photo = data.astronaut()
    small = np.asarray(Image.fromarray(photo).resize((256, 256)))
    rect, vector = _real_print(photo)
    small_rect, small_vector = _real_print(small)
    facematch_ = classifier(store)
    facematch_(job("astronaut", [{"faceId": "eileen", "faceRectangle": rect, "print": vector}]), None, NO_CONTEXT)
    [result] = facematch_(
        job("astronaut-small", [{"faceId": "eileen-small", "faceRectangle": small_rect, "print": small_vector}]),
        None,
        NO_CONTEXT,
    )["matches"]
    [match] = result["matches"]
    assert (match["id"], match["image_url"], match["face_rectangle"]) == (
        "eileen", "https://images.example/astronaut.jpg", rect)
    assert 0.8 < match["confidence"] < 1.0


@pytest.mark.azurite
def test_the_output_says_what_confidence_means(store: FaceStore) -> None:
    output = classifier(store, threshold=0.5)(job("job-meaning", []), None, NO_CONTEXT)
    assert "1 - d / (2 × 0.5)" in output["confidence_meaning"]
    assert "0.5 at the threshold 0.5" in output["confidence_meaning"]
