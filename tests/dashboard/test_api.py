"""The dashboard's API on the local host and a real Azurite: uploads that are refused leave nothing behind,
names are kept as data, and the image route serves only the pipeline's own image containers."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import azure.functions as func
import PIL.Image
import pytest
import requests

from dashboard import dashboard_blueprint
from pipeline.api import dependencies_blueprint
from pipeline.dependencies import Dependencies
from pipeline.host.localhost import LocalHost
from pipeline.hostconfig import QueueConfig
from pipeline.job_record import PIPELINELOGS, PipelineLog
from pipeline.settings import Settings
from pipeline.storage import Storage
from tests.pipeline.helpers import drain

pytestmark = pytest.mark.azurite

UPLOAD = {"X-Imaginem-Upload": "1"}
NASTY = '../"quoted" <b onmouseover=alert(1)>name</b>.png'


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[str, Storage]]:
    settings = replace(settings, image_max_bytes=20_000, dashboard_max_files=3)
    app = func.FunctionApp()
    app.register_functions(dependencies_blueprint(Dependencies.load()))
    app.register_functions(dashboard_blueprint(settings))
    host = LocalHost(app=app, settings=settings, config=QueueConfig.load(), http_port=0)
    thread = threading.Thread(target=host.serve, daemon=True)
    thread.start()
    assert host.ready.wait(30) and host.http_server is not None
    storage = Storage(settings.storage_connection_string)
    yield f"http://127.0.0.1:{host.http_server.server_port}/api", storage
    host.stop.set()
    thread.join(30)
    drain(storage, "ocr")


def _blobs(storage: Storage) -> set[str]:
    return {b.name for b in storage.container("inputimages").list_blobs()}


def _upload(api: str, files: list[tuple[str, bytes]], classifiers: str = "ocr") -> requests.Response:
    parts: list[tuple[str, tuple[str | None, bytes | str, str] | tuple[None, str]]] = [
        ("files", (name, data, "application/octet-stream")) for name, data in files]
    parts += [("classifiers", (None, classifiers)), ("urls", (None, ""))]
    return requests.post(f"{api}/uploads", files=parts, headers=UPLOAD, timeout=30)


def test_an_upload_becomes_a_batch_with_the_names_kept_as_data(api: tuple[str, Storage]) -> None:
    base, storage = api
    answer = _upload(base, [(NASTY, png()), ("b.png", png())])
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    assert batch["pipeline"] == ["ocr", "pipelineoutput"]
    job_ids = batch["jobs"]
    assert job_ids[1] == "0001-b.png" and "/" not in job_ids[0] and "<" not in job_ids[0] and '"' not in job_ids[0]
    assert {f"{batch['batch_id']}/{j}" for j in job_ids} <= _blobs(storage)
    messages = [json.loads(m) for m in drain(storage, "ocr")]
    names = {m["job_definition"]["id"]: m["job_definition"]["input"]["image_parameters"]["original_name"]
             for m in messages if m["job_definition"]["batch_id"] == batch["batch_id"]}
    assert names == {job_ids[0]: NASTY, job_ids[1]: "b.png"}  # as the user named it, shown as text by the page
    progress = requests.get(f"{base}/batches/{batch['batch_id']}", timeout=10).json()
    assert progress["counts"]["in progress"] == 2 and not progress["done"]
    entity = PipelineLog(storage.table(PIPELINELOGS)).read(batch["batch_id"], job_ids[0])
    assert entity is not None and entity["ocr"] == "step 0: processing"


@pytest.mark.parametrize(("files", "status", "message"), [
    ([("a.png", png()), ("notes.png", b"just some text")], 415, "notes.png: not an image"),
    ([("a.png", png()), ("big.png", png((400, 400)) + b"\0" * 20_000)], 413, "IMAGE_MAX_BYTES"),
    ([(f"{i}.png", png()) for i in range(4)], 413, "DASHBOARD_MAX_FILES"),
    ([("truncated.png", png()[:60])], 415, "not a readable image"),
    ([], 400, "nothing to submit"),
])
def test_a_refused_upload_is_a_4xx_with_a_reason_and_stores_nothing(
        api: tuple[str, Storage], files: list[tuple[str, bytes]], status: int, message: str) -> None:
    base, storage = api
    before = _blobs(storage)
    answer = _upload(base, files)
    assert answer.status_code == status and message in answer.json()["error"]
    assert _blobs(storage) == before
    assert drain(storage, "ocr") == []


def test_an_upload_from_another_site_is_refused(api: tuple[str, Storage]) -> None:
    base, storage = api
    before = _blobs(storage)
    # What a cross-site form can send: multipart with cookies, but no custom header.
    answer = requests.post(f"{base}/uploads", files=[("files", ("a.png", png(), "image/png"))], timeout=10)
    assert answer.status_code == 403 and _blobs(storage) == before


def test_unknown_classifiers_and_bad_urls_are_refused(api: tuple[str, Storage]) -> None:
    base, storage = api
    assert _upload(base, [("a.png", png())], classifiers="ocr,telepathy").status_code == 400
    answer = requests.post(f"{base}/uploads", files={"urls": (None, "file:///etc/passwd")}, headers=UPLOAD,
                           timeout=10)
    assert answer.status_code == 400 and "not an http(s) URL" in answer.json()["error"]
    assert requests.post(f"{base}/uploads", data=b"{}", headers={"Content-Type": "application/json", **UPLOAD},
                         timeout=10).status_code == 415
    assert drain(storage, "ocr") == []


def test_the_image_route_serves_only_the_pipelines_image_containers(api: tuple[str, Storage], unique: str) -> None:
    base, storage = api
    storage.upload_blob("inputimages", f"{unique}/photo.png", png(), content_type="image/png")
    storage.upload_blob("faces", f"{unique}/j/face-000.png", png(), content_type="image/png")
    storage.upload_blob("faces", f"{unique}/page.png", b"<script>alert(1)</script>", content_type="text/html")
    storage.upload_blob("largemessages", f"{unique}/j/ocr.json", b'{"secret": 1}', content_type="application/json")

    photo = requests.get(f"{base}/images/inputimages/{unique}/photo.png", timeout=10)
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/png"
    assert "sandbox" in photo.headers["Content-Security-Policy"]
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{base}/images/faces/{unique}/j/face-000.png", timeout=10).status_code == 200
    assert requests.get(f"{base}/images/faces/{unique}/page.png", timeout=10).status_code == 415
    assert requests.get(f"{base}/images/largemessages/{unique}/j/ocr.json", timeout=10).status_code == 404
    assert requests.get(f"{base}/images/inputimages/{unique}/missing.png", timeout=10).status_code == 404
    assert requests.get(f"{base}/images/inputimages/{unique}/%2e%2e/x.png", timeout=10).status_code == 400
    assert requests.get(f"{base}/images/http:%2F%2Fexample.invalid/x.png", timeout=10).status_code == 404


def test_the_page_is_served_with_a_strict_policy_and_nothing_outside_its_folder(api: tuple[str, Storage]) -> None:
    base, _ = api
    page = requests.get(f"{base}/dashboard/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert '<script src="/api/dashboard/app.js"' in page.text and "http" not in page.text.split("<body>")[0]
    assert requests.get(f"{base}/dashboard/app.js", timeout=10).headers["Content-Type"].startswith("text/javascript")
    assert requests.get(f"{base}/dashboard/%2e%2e/blueprint.py", timeout=10).status_code == 404
    assert requests.get(f"{base}/dashboard/%2e%2e%2f%2e%2e%2ffunction_app.py", timeout=10).status_code == 404
    assert requests.get(f"{base}/results?offset=-1", timeout=10).status_code == 400
    assert requests.get(f"{base}/batches/nothing-here/jobs/none", timeout=10).status_code == 404


def test_a_non_ascii_file_name_is_kept_whole(api: tuple[str, Storage]) -> None:
    base, storage = api
    answer = _upload(base, [("café-写真.png", png())])
    assert answer.status_code == 201, answer.text
    batch = answer.json()
    assert batch["jobs"] == ["0000-cafe-.png"]  # the job id stays ASCII; the name is kept as given
    messages = [json.loads(m) for m in drain(storage, "ocr")]
    assert [m["job_definition"]["input"]["image_parameters"]["original_name"] for m in messages
            if m["job_definition"]["batch_id"] == batch["batch_id"]] == ["café-写真.png"]


def test_a_form_names_its_file_in_utf8_or_in_rfc_2231_form() -> None:
    from dashboard.upload import parse_form

    body = ('--B\r\nContent-Disposition: form-data; name="files"; filename="café-写真.png"\r\n\r\nx\r\n'
            "--B\r\nContent-Disposition: form-data; name=\"files\"; filename*=UTF-8''caf%C3%A9%20%E5%86%99.png\r\n"
            "\r\ny\r\n--B--\r\n").encode()
    form = parse_form("multipart/form-data; boundary=B", body)
    assert [name for name, _ in form.files] == ["café-写真.png", "café 写.png"]


def test_too_many_label_or_batch_filters_are_a_400_not_dropped(api: tuple[str, Storage]) -> None:
    base, _ = api
    many = "&".join(f"label=l{i}" for i in range(101))
    answer = requests.get(f"{base}/results?{many}", timeout=10)
    assert answer.status_code == 400 and "101 labels" in answer.json()["error"]
    assert requests.get(f"{base}/results?{many.rsplit('&', 1)[0]}", timeout=10).status_code == 200
    batches = "&".join(f"batch=b{i}" for i in range(101))
    assert requests.get(f"{base}/results?{batches}", timeout=10).status_code == 400


@pytest.mark.parametrize(("path", "message"), [
    ("batches/a%2Fb", "batch id never contains '/'"),
    ("batches/a%23b", "batch id never contains"),
    ("batches/a%2Fb/jobs/j", "batch id never contains"),
    ("batches/b/jobs/a%2Fb", "job id never contains"),
    ("batches/b/jobs/" + "j" * 2000, "at most 1024 characters"),
    ("images/inputimages/" + "x" * 60_000, "at most 1024 characters"),
    ("images/inputimages/" + "a/" * 300 + "x.png", "at most 254 segments"),
])
def test_an_id_or_blob_name_that_cannot_exist_is_a_400_with_the_rule(api: tuple[str, Storage], path: str,
                                                                     message: str) -> None:
    base, _ = api
    answer = requests.get(f"{base}/{path}", timeout=10)
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_dependencies_route_refuses_deep_nesting_with_the_security_headers(api: tuple[str, Storage]) -> None:
    base, _ = api
    answer = requests.post(f"{base}/dependencies", data=b"[" * 100_000, timeout=10)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]
    for response in (answer, requests.get(f"{base}/dependencies", timeout=10),
                     requests.post(f"{base}/dependencies", json=["facematch"], timeout=10)):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.post(f"{base}/dependencies", json=["facematch"], timeout=10).json() == [
        "facedetection", "faceprint", "facematch"]


def test_the_batch_page_can_poll_only_what_changed(api: tuple[str, Storage]) -> None:
    base, storage = api
    batch = _upload(base, [("a.png", png()), ("b.png", png())]).json()
    url = f"{base}/batches/{batch['batch_id']}"
    full = requests.get(url, timeout=10).json()
    assert full["total"] == 2 and full["cursor"]
    changed = requests.get(url, params={"since": full["cursor"]}, timeout=10).json()
    # Within the overlap both jobs come again; the answer has no counts, the page counts what it holds.
    assert {j["id"] for j in changed["jobs"]} == set(batch["jobs"]) and "counts" not in changed
    assert changed["cursor"] >= full["cursor"]
    for bad in ("yesterday", "2026-01-01T00:00:00"):
        answer = requests.get(url, params={"since": bad}, timeout=10)
        assert answer.status_code == 400 and "since=" in answer.json()["error"]
    drain(storage, "ocr")


def test_changes_since_a_cursor_are_only_the_jobs_merged_after_it(settings: Settings, unique: str) -> None:
    import time

    from dashboard.batch_changes import BatchChanges, parse_cursor

    storage = Storage(settings.storage_connection_string)
    log = PipelineLog(storage.table(PIPELINELOGS))
    for job in ("j1", "j2", "j3"):
        log.merge(unique, job, {"ocr": "step 0: processing"})
    changes = BatchChanges(table=storage.table(PIPELINELOGS), overlap=timedelta(0))
    first = changes.read(unique)
    assert len(first.entities) == 3 and first.cursor is not None
    time.sleep(0.05)
    log.merge(unique, "j2", {"ocr": "step 0: success"})
    later = changes.read(unique, parse_cursor(first.cursor))
    # j3 was the newest at the cursor (``ge``: a write in the same tick is never missed); j1 is not sent again.
    assert [e["RowKey"] for e in later.entities] in (["j2"], ["j2", "j3"]) and later.cursor is not None
    assert later.cursor > first.cursor
    assert changes.read(unique, parse_cursor(later.cursor)).entities[0]["ocr"] == "step 0: success"
    assert BatchChanges(table=storage.table(PIPELINELOGS)).read(unique, parse_cursor(later.cursor)).cursor
