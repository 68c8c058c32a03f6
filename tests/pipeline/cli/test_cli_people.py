"""``imaginem people`` and ``imaginem results --person`` on both face index backends (table on Azurite,
postgresql on a real PostgreSQL with pgvector), with SQLite results: list, name, merge, split, hide."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from classifiers.backends import factory as backends
from classifiers.backends.face_index import FaceIndexBackend, JobKey, NewFace
from pipeline.cli import people, results
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from pipeline.sql.writer import OutputWriter
from tests.pipeline.sql.helpers import job_message
from tests.support.face_index_reset import empty_table_face_index

pytestmark = [pytest.mark.azurite, pytest.mark.pgvector]


def cli(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="imaginem")
    commands = parser.add_subparsers(dest="command", required=True)
    people.register(commands)
    results.register(commands)
    args = parser.parse_args(list(argv))
    code: int = args.handler(args, settings)
    return code


@pytest.fixture(params=["table", "postgresql"])
def filled(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[Settings, FaceIndexBackend]]:
    """Alice in two photos, Bob in one, a stranger with Bob; their jobs finished in SQL."""
    if request.param == "postgresql":
        settings = replace(settings, face_index_connection_string=request.getfixturevalue("pgvector"))
    services = Services.from_settings(settings)
    empty_table_face_index(services.storage)
    index = backends.face_index(settings=services.settings, storage=services.storage)
    rng = np.random.default_rng(7)
    alice, bob, stranger = (v / np.linalg.norm(v) for v in rng.standard_normal((3, 128)).astype(np.float32))
    writer = OutputWriter(database=Database.from_settings(settings))
    for job, faces in (("a1", [("fa1", alice)]), ("a2", [("fa2", alice + 0.01)]),
                       ("b1", [("fb1", bob), ("fs1", stranger)])):
        key = JobKey(batch_id="fam", job_id=job, image_url=f"https://example.invalid/{job}.jpg")
        index.add_and_search(key, [NewFace(face_id=f, face_rectangle=(0, 0, 20, 20), print=v.astype(np.float32))
                                   for f, v in faces], threshold=0.5, limit=20)
        writer.write(job_message(job, batch_id="fam"))
    yield settings, index
    close = getattr(index, "close", None)
    if close is not None:
        close()


def listing(settings: Settings, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert cli(settings, "people", "--json", *extra) == 0
    found: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return found


def test_people_name_merge_split_hide_and_results_by_person(filled: tuple[Settings, FaceIndexBackend],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    settings, index = filled
    listed = listing(settings, capsys)
    assert [(p["faces"], p["photos"], p["name"], p["hidden"]) for p in listed] == [
        (2, 2, "", False), (1, 1, "", False), (1, 1, "", False)]
    alice = str(listed[0]["id"])
    assert sorted(listed[0]["face_ids"]) == ["fa1", "fa2"]  # type: ignore[arg-type]
    bob = index.person_of("fb1")
    stranger = index.person_of("fs1")
    assert bob and stranger

    assert cli(settings, "people", "name", alice, "Alice [bold]") == 0
    assert cli(settings, "people", "name", bob, "Bob") == 0
    assert cli(settings, "people", "name", stranger, "alice [bold]") == 0  # names differ by case: allowed
    assert cli(settings, "people", "name", stranger, "Bob") == 2
    assert "already named" in capsys.readouterr().err
    capsys.readouterr()
    assert cli(settings, "people") == 0
    assert "Alice [bold]" in capsys.readouterr().out  # shown as text, not as markup
    assert [p["name"] for p in listing(settings, capsys, "--name", "ALICE")] == ["Alice [bold]", "alice [bold]"]

    assert cli(settings, "results", "--person", "Alice [bold]", "--json") == 0
    assert sorted(r["id"] for r in json.loads(capsys.readouterr().out)) == ["a1", "a2"]
    assert cli(settings, "results", "--person", "Alise") == 2
    assert "Alice [bold]" in capsys.readouterr().err  # the near names

    assert cli(settings, "people", "merge", "Bob", alice) == 0  # Alice's faces join Bob
    capsys.readouterr()
    assert cli(settings, "results", "--person", "Bob", "--json") == 0
    assert sorted(r["id"] for r in json.loads(capsys.readouterr().out)) == ["a1", "a2", "b1"]
    assert cli(settings, "people", "split", "fa2") == 0
    capsys.readouterr()
    assert cli(settings, "results", "--person", bob, "--json") == 0
    assert sorted(r["id"] for r in json.loads(capsys.readouterr().out)) == ["a1", "b1"]
    assert cli(settings, "people", "split", "no-such-face") == 2

    assert cli(settings, "people", "hide", "Bob") == 0
    assert bob not in [p["id"] for p in listing(settings, capsys)]
    assert bob in [p["id"] for p in listing(settings, capsys, "--all")]
    assert cli(settings, "people", "unhide", bob) == 0
    assert bob in [p["id"] for p in listing(settings, capsys)]


def test_with_the_azure_face_service_the_cli_says_persons_need_a_local_index(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    azure = replace(settings, face_endpoint="https://face.example.invalid", face_api_key="k")
    assert cli(azure, "people") == 2  # the Face service's face lists are the index then: no persons to list
    said = " ".join(capsys.readouterr().err.split())
    assert "persons need a local face index (table or postgresql)" in said
    assert "the Face service backend keeps face lists only" in said
    OutputWriter(database=Database.from_settings(azure)).write(job_message("j", batch_id="azure"))  # a results db
    assert cli(azure, "results", "--person", "Alice") == 2  # a message, not a traceback
    said = " ".join(capsys.readouterr().err.split())
    assert "persons need a local face index" in said


def test_merging_a_person_into_herself_is_refused(filled: tuple[Settings, FaceIndexBackend]) -> None:
    settings, index = filled
    alice = index.person_of("fa1")
    assert alice is not None
    assert cli(settings, "people", "merge", alice, alice) == 2  # not "merged 1 person(s)"
    assert index.resolve(alice) == alice
