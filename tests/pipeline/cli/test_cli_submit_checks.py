"""Issue 23, item 4: `imaginem submit` refuses what the dashboard's upload refuses, before storing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.cli.checks import check_inputs, skipped_lines
from pipeline.errors import InputImageError
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from tests.pipeline.images.test_images import png

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 10_000_000}


def test_a_named_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# not an image\n")
    with pytest.raises(InputImageError, match=r"README.md: not an image \(JPEG, PNG, GIF, BMP, TIFF or WebP\)"):
        check_inputs([str(readme)], **LIMITS)


def test_a_picture_named_jpg_that_does_not_decode_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(png(20, 20)[:40])
    with pytest.raises(InputImageError, match="broken.png: not a readable image"):
        check_inputs([str(broken)], **LIMITS)


def test_a_folder_skips_what_is_not_an_image_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png(30, 20))
    (tmp_path / "b.jpg").write_text("text in disguise")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "big.png").write_bytes(png(2000, 1000))
    (tmp_path / "sub").mkdir()
    found = check_inputs([str(tmp_path), "https://example.invalid/x.jpg"],
                         max_bytes=1_000_000, max_pixels=1_000_000)
    assert found.images == [str(tmp_path / "a.png"), "https://example.invalid/x.jpg"]
    lines = skipped_lines(found)
    assert lines[0] == "skipped 2 files (not images): b.jpg, notes.txt"
    assert lines[1].startswith("skipped ") and "big.png: 2000x1000 pixels is more than the limit" in lines[1]


@pytest.mark.azurite
def test_submit_of_a_non_image_exits_2_and_stores_nothing(services: Services, unique: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Imaginem\n")
    (tmp_path / "ok.png").write_bytes(png(10, 10))
    assert main(["submit", str(tmp_path / "ok.png"), str(readme), "--batch", f"refused{unique}"]) == 2
    err = capsys.readouterr().err
    assert f"error: {readme}: not an image (JPEG, PNG, GIF, BMP, TIFF or WebP)" in err
    assert list(services.storage.table(PIPELINELOGS).query_entities(f"PartitionKey eq 'refused{unique}'")) == []
    blobs = services.storage.blob_service.get_container_client("inputimages")
    if blobs.exists():
        assert list(blobs.list_blobs(name_starts_with=f"refused{unique}/")) == []


@pytest.mark.azurite
def test_a_job_file_with_a_syntax_error_names_its_line_and_column(azurite: object, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 23, item 6: the JSON error gave no position."""
    job = tmp_path / "job.json"
    job.write_text('{\n  "job_definition": {\n    "id": "j1",\n    "batch_id" "b"\n  }\n}\n')
    assert main(["submit", str(job)]) == 2
    assert f"error: {job}: message is not valid JSON: Expecting ':' delimiter at line 4, column 16" in \
        capsys.readouterr().err
