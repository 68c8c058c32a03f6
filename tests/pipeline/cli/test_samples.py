"""Issue 23, item 8: `imaginem samples` works in an install of requirements.txt alone (no scikit-image)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import PIL.Image

from pipeline.cli.samples import PHOTOS, write_samples

ROOT = Path(__file__).resolve().parents[3]
# scripts/setup.sh makes it from requirements.txt alone, as tests/e2e/test_azure_like.py uses it.
_HASH = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:16]
VENV_PYTHON = Path("/tmp") / f"imaginem-azure-like-{_HASH}" / "bin" / "python"
NAMES = ["astronaut.jpg", "chelsea-the-cat.jpg", "coffee.jpg", "camera.png", "sign.png", "astronaut-again.jpg"]


def test_the_samples_are_written_from_the_photos_shipped_in_the_package(tmp_path: Path) -> None:
    paths = write_samples(tmp_path)
    assert [p.name for p in paths] == NAMES
    for path in paths:
        with PIL.Image.open(path) as image:
            assert image.mode == "RGB" and min(image.size) >= 200
    assert (tmp_path / "astronaut.jpg").read_bytes() == (PHOTOS / "astronaut.jpg").read_bytes()
    assert "CC0" in (PHOTOS / "SOURCES.md").read_text()


def test_samples_runs_with_requirements_txt_only(tmp_path: Path) -> None:
    """The Azure-like venv (scripts/setup.sh) has requirements.txt and nothing else: no scikit-image there."""
    assert VENV_PYTHON.exists(), "run scripts/setup-tests.sh (it creates the Azure-like venv)"
    assert subprocess.run([VENV_PYTHON, "-c", "import skimage"], capture_output=True).returncode != 0
    done = subprocess.run([VENV_PYTHON, "-m", "pipeline.cli", "samples", str(tmp_path / "photos")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [Path(line).name for line in done.stdout.split()] == NAMES
    assert "Traceback" not in done.stderr


def test_the_readme_names_the_job_id_submit_gives_the_astronaut(tmp_path: Path) -> None:
    """Issue 23, item 3: the README said 0000-astronaut.jpg; a folder's files are numbered in name order."""
    from pipeline.cli.checks import check_inputs

    write_samples(tmp_path)
    images = check_inputs([str(tmp_path)], max_bytes=50_000_000, max_pixels=50_000_000).images
    assert Path(images[1]).name == "astronaut.jpg"
    assert 'imaginem status "$BATCH" 0001-astronaut.jpg' in (ROOT / "README.md").read_text()
