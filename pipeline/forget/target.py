"""What to forget (a job, a batch or a person) and what forgetting it removed from each store."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.errors import JobFormatError
from pipeline.job import check_key

__all__ = ["Kind", "StoreReport", "Target"]


class Kind(StrEnum):
    JOB = "job"
    BATCH = "batch"
    PERSON = "person"
    EXPIRED = "expired faces"


@dataclass(frozen=True, kw_only=True)
class Target:
    """``batch_id`` for a job or batch, ``job_id`` for a job, ``person_id`` for a person."""

    kind: Kind
    batch_id: str = ""
    job_id: str = ""
    person_id: str = ""
    before: str = ""
    """For expired faces: the ISO moment; faces first stored before it are forgotten."""
    with_photos: bool = False
    """For a person: also forget the whole jobs her faces are in (their photos and everything derived)."""

    @classmethod
    def job(cls, batch_id: str, job_id: str) -> Target:
        return cls(kind=Kind.JOB, batch_id=_job_key(batch_id, "batch"), job_id=_job_key(job_id, "job"))

    @classmethod
    def batch(cls, batch_id: str) -> Target:
        return cls(kind=Kind.BATCH, batch_id=_job_key(batch_id, "batch"))

    @classmethod
    def person(cls, person_id: str, *, with_photos: bool = False) -> Target:
        return cls(kind=Kind.PERSON, person_id=_required(person_id, "person"), with_photos=with_photos)

    @classmethod
    def expired(cls, before: str) -> Target:
        return cls(kind=Kind.EXPIRED, before=_required(before, "moment"))

    def ids(self) -> tuple[str, ...]:
        """The ids that name it (hashed for the audit record, never stored in clear)."""
        return {Kind.JOB: (self.batch_id, self.job_id), Kind.BATCH: (self.batch_id,),
                Kind.PERSON: (self.person_id,), Kind.EXPIRED: (self.before,)}[self.kind]

    def describe(self) -> str:
        match self.kind:
            case Kind.JOB:
                return f"job {self.job_id!r} of batch {self.batch_id!r}"
            case Kind.BATCH:
                return f"batch {self.batch_id!r}"
            case Kind.EXPIRED:
                return f"faces stored before {self.before}"
            case _:
                return f"person {self.person_id!r}" + (" with her photos" if self.with_photos else "")


def _job_key(value: str, what: str) -> str:
    """A batch or job id as jobs may have them (``pipeline.job.check_key``): no job has any other, so another is
    a mistake to say, not something to search every store for."""
    _required(value, what)
    try:
        return check_key(value, f"{what} id")
    except JobFormatError as e:
        raise ValueError(str(e)) from None


def _required(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a {what} id is required")
    if "\x00" in value or len(value) > 1024:
        raise ValueError(f"{what} id is not usable")
    return value


@dataclass
class StoreReport:
    """What one store's eraser removed (counts by what) and what it could not (reasons)."""

    store: str
    removed: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def add(self, what: str, count: int = 1) -> None:
        self.removed[what] = self.removed.get(what, 0) + count

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def summary(self) -> str:
        parts = [f"{count} {what}" for what, count in self.removed.items() if count] or ["nothing"]
        text = f"{self.store}: " + ", ".join(parts)
        return text + "".join(f"\n  could not: {failure}" for failure in self.failures)
