"""Issue 23, item 6: tables readable at common widths; job ids and states are never cut."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from pipeline.cli import main
from pipeline.cli.status_view import entity_order
from pipeline.cli.tables import Column, fit_table, middle
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services

PIPELINE = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput"]


def render(columns: list[Column], width: int) -> list[str]:
    table, at, _ = fit_table(columns, width=width)
    console = Console(width=at, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    console.file.close()
    return console.export_text().splitlines()


def test_middle_keeps_both_ends_of_a_url() -> None:
    url = "http://127.0.0.1:10000/devstoreaccount1/inputimages/batch-20261207/0001-astronaut.jpg"
    short = middle(url, 40)
    assert len(short) == 40 and short.startswith("http://127.0.0.1") and short.endswith("astronaut.jpg")
    assert "…" in short and middle("short", 40) == "short"


@pytest.mark.parametrize("width", [80, 100, 120])
def test_kept_columns_stay_whole_and_the_rest_gives_way(width: int) -> None:
    ids = [f"{i:04d}-a-photo-with-a-rather-long-name.jpg" for i in range(3)]
    lines = render([Column("job", ids, give="keep"),
                    Column("outcome", ["finished with failures", "succeeded", "in progress"], give="keep"),
                    Column("image", ["http://127.0.0.1:10000/devstoreaccount1/inputimages/" + i for i in ids],
                           give="middle", drop=2),
                    Column("labels", ["cat 0.97, tabby 0.80, Egyptian cat 0.55"] * 3, drop=3),
                    Column("finished", ["2026-12-07 02:08:52"] * 3, give="keep", drop=1)], width)
    assert all(len(line) <= width for line in lines)
    for job_id, state in zip(ids, ["finished with failures", "succeeded", "in progress"], strict=True):
        [row] = [line for line in lines if job_id in line]
        assert state in row


def test_kept_cells_wider_than_the_screen_are_still_whole() -> None:
    long_id = "job-" + "x" * 90
    lines = render([Column("job", [long_id], give="keep"), Column("outcome", ["succeeded"], give="keep"),
                    Column("labels", ["cat"], drop=1)], 80)
    [row] = [line for line in lines if long_id in line]
    assert "succeeded" in row and "…" not in row


def test_a_job_shows_its_properties_in_pipeline_order() -> None:
    entity = {"PartitionKey": "b", "RowKey": "j", "job_output": "{}", "ocr_output": "{}", "ocr": "step 1: success",
              "generalclassification": "step 0: success", "generalclassification_output": "{}",
              "image_url": "http://x/y.jpg", "fingerprint": "abc", "ocr_timings": "{}"}
    assert entity_order(entity, ["generalclassification", "ocr"]) == [
        "image_url", "generalclassification", "generalclassification_output", "ocr", "ocr_output", "ocr_timings",
        "fingerprint", "job_output"]


@pytest.fixture
def batch(services: Services, unique: str) -> tuple[str, list[str]]:
    batch_id = f"batch-20261207-021500-{unique[:6]}"
    ids = [f"{i:04d}-{name}" for i, name in enumerate(["astronaut-again.jpg", "astronaut.jpg", "chelsea-the-cat.jpg"])]
    table = services.storage.table(PIPELINELOGS)
    for index, job_id in enumerate(ids):
        entity = {"PartitionKey": batch_id, "RowKey": job_id,
                  "image_url": f"http://127.0.0.1:10000/devstoreaccount1/inputimages/{batch_id}/{job_id}"}
        for step, queue in enumerate(PIPELINE):
            entity[queue] = f"step {step}: {'failed' if index == 0 and queue == 'ocr' else 'success'}"
            entity[f"{queue}_output"] = json.dumps({"x": "y" * 300})
            entity[f"{queue}_timings"] = json.dumps({"total_ms": 12.5})
        if index == 0:
            entity["ocr_exception"] = "NotAnImageError: " + "the bytes are not an image " * 4
        entity["job_output"] = "{}"
        table.upsert_entity(entity)
    return batch_id, ids


@pytest.mark.azurite
@pytest.mark.parametrize("columns", ["80", "100"])
def test_status_of_a_batch_shows_whole_ids_and_states(batch: tuple[str, list[str]], columns: str,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    batch_id, ids = batch
    assert main(["status", batch_id]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= int(columns)
    for job_id, state in zip(ids, ["finished with failures", "succeeded", "succeeded"], strict=True):
        [row] = [line for line in out.splitlines() if job_id in line]
        assert state in row
    assert "failed: ocr" in out
    if columns == "80":
        assert "left out at 80 columns: total ms, exceptions" in out


@pytest.mark.azurite
@pytest.mark.parametrize("columns", ["80", "100", None])
def test_status_of_a_job_is_in_pipeline_order_and_fits(batch: tuple[str, list[str]], columns: str | None,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Piped (no COLUMNS) it was about 600 columns wide; its rows came in the table's alphabetical order."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    batch_id, ids = batch
    assert main(["status", batch_id, ids[0]]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= int(columns or 120)
    assert f"{batch_id} / {ids[0]}: finished with failures" in " ".join(out.split())
    firsts = [out.index(f"│ {name} ") for name in ("image_url", *PIPELINE, "job_output")]
    assert firsts == sorted(firsts)


@pytest.mark.azurite
def test_an_unknown_batch_is_exit_2_for_status_as_for_wait(services: Services, unique: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", f"nothing{unique}"]) == 2
    assert f"no such batch 'nothing{unique}'" in capsys.readouterr().err
    assert main(["status", f"nothing{unique}", "some-job"]) == 2
    assert f"no such batch 'nothing{unique}'" in capsys.readouterr().err


def test_messages_on_stderr_are_not_wrapped_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    long_name = "not-an-image-" + "x" * 150 + ".txt"
    assert main(["submit", long_name]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert long_name in line
