"""``imaginem forget`` as a user runs it: --yes off a terminal, what it prints, its exit codes."""

from __future__ import annotations

import argparse

import pytest

from pipeline.cli import forget as cli_forget
from pipeline.cli.main import main
from pipeline.forget.build import build_eraser
from pipeline.forget.eraser import Eraser
from pipeline.forget.scope import Scope
from pipeline.forget.target import StoreReport
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.sql.connection import Database
from tests.forget.synthetic import Synthetic, random_id

pytestmark = pytest.mark.azurite


@pytest.fixture
def env(services: Services, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("IMAGINEM_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.chdir(services.settings.data_dir)  # no local.settings.json here
    return services.settings


def test_forget_needs_yes_off_a_terminal_then_erases_and_says_what(
        env: Settings, services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    batch = random_id("cli")
    database = Database.from_settings(env)
    Synthetic(storage=services.storage, database=database, index=services.face_index).job(batch, "one")
    database.close()

    assert main(["forget", "--batch", batch]) == 2
    assert "--yes" in capsys.readouterr().err
    assert services.storage.table(PIPELINELOGS).get_entity(batch, "one")

    assert main(["forget", "--batch", batch, "--yes"]) == 0
    printed = capsys.readouterr().out
    assert "1 entities" in printed and "1 rows" in printed and "workingcopies" in printed
    assert main(["forget", "--batch", batch, "--yes"]) == 0  # nothing left: still fine
    assert main(["forget", "--batch", batch, "--with-photos", "--yes"]) == 2


class _Broken:
    name = "broken store"

    def erase(self, scope: Scope) -> StoreReport:
        return StoreReport(self.name, failures=["the disk is on fire"])


def test_forget_exits_1_and_says_what_is_left_when_a_store_fails(
        env: Settings, services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(given: Services) -> Eraser:
        eraser = build_eraser(given)
        eraser._stores.append(_Broken())
        return eraser

    args = argparse.Namespace(job=[random_id("cli"), "j"], batch=None, person=None, with_photos=False, yes=True)
    assert cli_forget.run(args, env, eraser=broken) == 1
    captured = capsys.readouterr()
    assert "the disk is on fire" in captured.out and "run the same command again" in captured.err


def test_forget_person_takes_the_index_person_id_and_says_when_it_knows_none(
        env: Settings, services: Services, capsys: pytest.CaptureFixture[str]) -> None:
    database = Database.from_settings(env)
    data = Synthetic(storage=services.storage, database=database, index=services.face_index)
    batch = random_id("cli")
    [face] = data.job(batch, "one", people=[data.person()])
    database.close()

    assert main(["forget", "--person", face.person_id, "--yes"]) == 0
    assert "1 faces" in capsys.readouterr().out
    assert services.face_index.resolve(face.person_id) is None and services.face_index.face(face.face_id) is None
    assert main(["forget", "--person", face.person_id, "--yes"]) == 0
    assert "has no person" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--job", "a/b", "x"], ["--job", "b", "x\ny"], ["--batch", "a#b"], ["--batch", " "]])
def test_an_id_no_job_can_have_is_a_usage_error_before_any_store(
        env: Settings, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forget", *argv, "--yes"]) == 2  # not a storage error from the table service
    said = capsys.readouterr().err
    assert "forget" in said and ("contains" in said or "required" in said), said
