"""Which person each new face of a job belongs to, the same rule for every face index backend.

- A face joins the person of its nearest match; with no match it starts a new person.
- A face that also matches faces of other persons joins them: those persons merge into its person,
  unless two of them were seen in one photo (then they are two people, and the match is the doubt) or a
  user kept them apart (moved a face from one to the other: an automatic merge never undoes that).
- Two faces of one photo are never one person: faces claim persons nearest match first, and a face whose
  person was claimed by a nearer face of the same job takes its next person, or a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Assignment", "assign_persons"]


@dataclass(frozen=True)
class Assignment:
    persons: list[str]  # per face, in the order given
    merges: list[tuple[str, str]]  # (merged person, the person it joined), in order
    new_persons: list[str]


def assign_persons(
    candidates: Sequence[Sequence[tuple[float, str]]],
    *,
    new_person: Callable[[int], str],
    seen_together: Callable[[str, str], bool],
    kept_apart: Callable[[str, str], bool] = lambda a, b: False,
) -> Assignment:
    """``candidates[i]``: (distance, current person) of face i's matches, any order.
    ``new_person(i)``: the id of a new person started by face i. ``seen_together(a, b)``: whether
    persons a and b appear in one stored photo; ``kept_apart(a, b)``: whether a user split them (either
    way they never merge)."""
    persons: list[str | None] = [None] * len(candidates)
    alias: dict[str, str] = {}  # merges made here: person -> the person it joined
    claimed: set[str] = set()
    merges: list[tuple[str, str]] = []
    new: list[str] = []

    def current(person: str) -> str:
        while person in alias:
            person = alias[person]
        return person

    nearest = [min((d for d, _ in c), default=float("inf")) for c in candidates]
    for i in sorted(range(len(candidates)), key=lambda i: (nearest[i], i)):
        ordered: list[str] = []
        for _, person in sorted(candidates[i]):
            resolved = current(person)
            if resolved not in ordered and resolved not in claimed:
                ordered.append(resolved)
        if not ordered:
            person = new_person(i)
            new.append(person)
        else:
            person = ordered[0]
            joined = [person]
            for other in ordered[1:]:
                if any(seen_together(other, p) or kept_apart(other, p) for p in joined):
                    continue
                alias[other] = person
                merges.append((other, person))
                joined.append(other)
        claimed.add(person)
        persons[i] = person
    return Assignment(persons=[p for p in persons if p is not None], merges=merges, new_persons=new)
