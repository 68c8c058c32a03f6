"""``imaginem submit``'s inputs, checked before anything is stored, as the dashboard's upload checks them.

A file named on the command line that is not an image we take is an error (exit 2); a folder's
files that are not are skipped and named on stderr. Job ``.json`` files are parsed later, by the
submitter, which checks them as a step would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputImageError
from pipeline.images.check import check_image
from pipeline.submit import is_job_file

__all__ = ["SubmitInputs", "check_inputs", "skipped_lines"]

_NAMES_SHOWN = 10


@dataclass
class SubmitInputs:
    job_files: list[Path] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    """Image files that passed the check, and http(s) URLs, in the order given (a folder's sorted by name)."""
    skipped: list[InputImageError] = field(default_factory=list)
    """A folder's files that are not images we take, each error naming its file."""
    skipped_names: list[str] = field(default_factory=list)


def check_inputs(inputs: Sequence[str], *, max_bytes: int, max_pixels: int) -> SubmitInputs:
    """Sort the inputs into job files, images and URLs; raise InputImageError for a named file that is not an
    image, FileNotFoundError for a name that is neither a file, a folder nor a URL."""
    found = SubmitInputs()
    for source in inputs:
        if re.match(r"^https?://", source, re.IGNORECASE):
            found.images.append(source)
        elif is_job_file(source):
            found.job_files.append(Path(source))
        elif (path := Path(source)).is_dir():
            for child in sorted(p for p in path.iterdir() if p.is_file()):
                try:
                    check_image(str(child), child.read_bytes(), max_bytes=max_bytes, max_pixels=max_pixels)
                except InputImageError as e:
                    found.skipped.append(e)
                    found.skipped_names.append(child.name)
                else:
                    found.images.append(str(child))
        elif path.is_file():
            check_image(source, path.read_bytes(), max_bytes=max_bytes, max_pixels=max_pixels)
            found.images.append(source)
        else:
            raise FileNotFoundError(f"{source}: no such file, folder or http(s) URL")
    return found


def skipped_lines(found: SubmitInputs) -> list[str]:
    """What stderr says about a folder's skipped files: one line for those that are not images, one per other."""
    lines = []
    not_images = [name for name, e in zip(found.skipped_names, found.skipped, strict=True) if not e.too_large]
    if not_images:
        shown = ", ".join(not_images[:_NAMES_SHOWN]) + (", …" if len(not_images) > _NAMES_SHOWN else "")
        lines.append(f"skipped {len(not_images)} file{'s' * (len(not_images) != 1)} (not images): {shown}")
    lines += [f"skipped {e}" for e in found.skipped if e.too_large]
    return lines
