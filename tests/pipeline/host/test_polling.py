"""The worker's per-queue poll schedule (pipeline.host.polling), on a clock the test moves."""

from __future__ import annotations

import pytest

from pipeline.host.polling import FIRST_BACKOFF, PollSchedule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_every_queue_is_due_at_first_in_its_order(clock: Clock) -> None:
    schedule = PollSchedule(["a", "b", "c"], max_interval=1.0, clock=clock)
    assert schedule.due() == ["a", "b", "c"]
    assert schedule.wait() == 0


def test_an_empty_queue_backs_off_doubling_up_to_the_max_polling_interval(clock: Clock) -> None:
    schedule = PollSchedule(["a", "b"], max_interval=0.5, clock=clock)
    waits = []
    for _ in range(6):
        schedule.polled("a", 0)
        waits.append(round(schedule.wait(["a"]), 3))
        clock.now += waits[-1]
        assert "a" in schedule.due()
    assert waits == [FIRST_BACKOFF, 0.1, 0.2, 0.4, 0.5, 0.5]
    assert schedule.due() == ["a", "b"]  # b was never polled: still due


def test_a_queue_that_gave_messages_is_due_again_at_once(clock: Clock) -> None:
    schedule = PollSchedule(["a"], max_interval=0.5, clock=clock)
    for _ in range(4):
        schedule.polled("a", 0)
    clock.now += 0.5
    schedule.polled("a", 2)
    assert schedule.due() == ["a"]
    schedule.polled("a", 0)  # the back-off starts over
    assert schedule.wait() == pytest.approx(FIRST_BACKOFF)


def test_known_empty_queues_are_not_due_until_their_back_off_ends(clock: Clock) -> None:
    schedule = PollSchedule(["a", "b", "c"], max_interval=1.0, clock=clock)
    for queue in ("a", "b", "c"):
        schedule.polled(queue, 0)
    clock.now += FIRST_BACKOFF / 2
    assert schedule.due() == []
    assert schedule.wait() == pytest.approx(FIRST_BACKOFF / 2)


def test_a_nudged_queue_is_due_at_once_and_polled_first(clock: Clock) -> None:
    schedule = PollSchedule(["a", "b", "c"], max_interval=30.0, clock=clock)
    for _ in range(8):  # all three deep in their back-off
        for queue in ("a", "b", "c"):
            schedule.polled(queue, 0)
    assert schedule.due() == []
    schedule.nudge("c")
    schedule.nudge("b")
    assert schedule.due() == ["b", "c"]
    schedule.polled("b", 1)
    clock.now += 0.01
    assert schedule.due() == ["c", "b"]  # c, still nudged, first; b gave a message: due again
    schedule.polled("c", 0)
    assert schedule.due() == ["b"]
    assert schedule.wait(["c"]) == pytest.approx(FIRST_BACKOFF)  # an empty nudged poll backs off from the start


def test_queues_it_does_not_poll_are_ignored(clock: Clock) -> None:
    schedule = PollSchedule(["a"], max_interval=1.0, clock=clock)
    schedule.nudge("elsewhere")
    schedule.polled("elsewhere", 3)
    assert schedule.due() == ["a"]
    assert schedule.wait(["elsewhere"]) == 1.0
