"""Issue 23, item 7: requeue moves jobs only and shows them in progress again; clear asks before emptying."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.azurite


def test_requeue_moves_jobs_and_leaves_what_is_not_one(services: Services, unique: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    queue = f"rq{unique}"
    batch = f"rqb{unique}"
    poison = services.storage.queue(f"{queue}-poison")
    poison.send_message("hello, not a job")
    poison.send_message(json.dumps(job_message("j1", [queue], batch_id=batch)))
    services.storage.table(PIPELINELOGS).upsert_entity({
        "PartitionKey": batch, "RowKey": "j1", queue: "step 0: failed",
        f"{queue}_exception": f"RetryableError: down (moved to {queue}-poison)"})
    assert main(["status", batch, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["outcome"] == "stopped"

    assert main(["requeue", "--pipeline", queue]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "requeued 1 message(s) from the poison queues" in err
    assert "left 1 message(s) that are not jobs in their poison queues" in err
    assert f"{queue}-poison: message is neither JSON nor base64 of JSON" in err
    assert [m.content for m in poison.peek_messages(max_messages=32)] == ["hello, not a job"]
    [moved] = services.storage.queue(queue).peek_messages()
    assert json.loads(moved.content)["job_definition"]["id"] == "j1"
    # Shown as running again, not as stopped in the poison queue it has left.
    assert main(["status", batch, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["outcome"] == "in progress"


def test_clear_asks_on_a_terminal_and_needs_yes_without_one(services: Services, unique: str,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    queue = f"cl{unique}"
    services.storage.queue(queue).send_message("a message")

    def waiting() -> int:
        return services.storage.queue(queue).get_queue_properties().approximate_message_count

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["clear", "--pipeline", queue]) == 2
    assert "add --yes to confirm (there is no terminal to ask)" in capsys.readouterr().err
    assert waiting() == 1

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: "n")
    assert main(["clear", "--pipeline", queue]) == 1
    assert "nothing cleared" in capsys.readouterr().err and waiting() == 1
    monkeypatch.setattr("builtins.input", lambda question: "y")
    assert main(["clear", "--pipeline", queue]) == 0
    assert f"cleared {queue} (1 message(s)) and {queue}-poison (0)" in capsys.readouterr().out
    assert waiting() == 0

    services.storage.queue(queue).send_message("another")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["clear", "--pipeline", queue, "--yes"]) == 0
    assert waiting() == 0
