"""Quarter turns of a page for OCR: which way up the text is, the upright copy, and points mapped back.

An orientation names where the top of the text faces in the original image (the OCR API's Up,
Right, Down, Left). A page whose top faces left was turned a quarter anticlockwise: turning the
image a quarter clockwise makes it upright.
"""

from __future__ import annotations

from collections.abc import Callable

import PIL.Image

__all__ = ["ORIENTATIONS", "Point", "to_original", "to_upright", "upright"]

ORIENTATIONS = ("Up", "Right", "Down", "Left")
Point = tuple[float, float]

_TURN = {
    "Right": PIL.Image.Transpose.ROTATE_90,  # anticlockwise
    "Down": PIL.Image.Transpose.ROTATE_180,
    "Left": PIL.Image.Transpose.ROTATE_270,  # clockwise
}


def upright(image: PIL.Image.Image, orientation: str) -> PIL.Image.Image:
    """The copy of ``image`` in which text of this orientation reads normally."""
    turn = _TURN.get(orientation)
    return image if turn is None else image.transpose(turn)


def to_original(orientation: str, width: int, height: int) -> Callable[[Point], Point]:
    """Maps a point of the upright copy back to the original image of ``width`` × ``height``."""
    match orientation:
        case "Right":  # the copy was turned anticlockwise: its x runs down the original
            return lambda p: (width - p[1], p[0])
        case "Down":
            return lambda p: (width - p[0], height - p[1])
        case "Left":  # turned clockwise: its x runs up the original
            return lambda p: (p[1], height - p[0])
        case _:
            return lambda p: p


def to_upright(orientation: str, width: int, height: int) -> Callable[[Point], Point]:
    """Maps a point of the original image of ``width`` × ``height`` into the upright copy (inverse of to_original)."""
    match orientation:
        case "Right":
            return lambda p: (p[1], width - p[0])
        case "Down":
            return lambda p: (width - p[0], height - p[1])
        case "Left":
            return lambda p: (height - p[1], p[0])
        case _:
            return lambda p: p
