"""Watching a job: poll until it ends, exit by outcome, stop at the deadline, ride out a few failed polls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from storyimages_cli.api import ApiError
from storyimages_cli.outcome import ExitCode
from storyimages_cli.watch import FAILED_POLLS_TOLERATED, WatchTimedOut, watch_job
from tests.cli_fakes import JOB_ID, FakeClock, job, slide


@dataclass
class ScriptedReader:
    """Answers each poll with the next scripted answer (raising an ApiError instead), the last one for ever."""

    script: list[dict[str, Any] | ApiError]
    polled: list[str] = field(default_factory=list)

    def status(self, job_id: str) -> dict[str, Any]:
        self.polled.append(job_id)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, ApiError):
            raise answer
        return answer


@dataclass
class RecordingView:
    shown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def update(self, data: Mapping[str, Any]) -> None:
        self.shown.append(data["masterJob"]["status"])

    def note(self, message: str) -> None:
        self.notes.append(message)


RUNNING = job("generating", [slide(1, "completed"), slide(2, "generating")])


@pytest.mark.parametrize(
    ("ending", "code"),
    [
        ("completed", ExitCode.OK),
        ("completed_with_errors", ExitCode.COMPLETED_WITH_ERRORS),
        ("failed", ExitCode.FAILED),
        ("cancelled", ExitCode.CANCELLED),
    ],
)
def test_given_a_job_that_ends_when_watched_then_every_answer_is_shown_and_the_exit_code_is_its_endings(
    ending: str, code: ExitCode
) -> None:
    reader = ScriptedReader([job("pending", [slide(1), slide(2)]), RUNNING, job(ending, [slide(1), slide(2)])])
    view, clock = RecordingView(), FakeClock()

    result = watch_job(reader, JOB_ID, view, interval=5, clock=clock, sleep=clock.sleep)

    assert result == code
    assert view.shown == ["pending", "generating", ending]
    assert reader.polled == [JOB_ID] * 3
    assert clock.sleeps == [5, 5]


def test_given_a_job_still_running_at_the_timeout_when_watched_then_watch_timed_out_after_a_last_poll() -> None:
    reader = ScriptedReader([RUNNING])
    view, clock = RecordingView(), FakeClock()

    with pytest.raises(WatchTimedOut, match=f"{JOB_ID} is still generating after 12 s"):
        watch_job(reader, JOB_ID, view, interval=5, timeout=12, clock=clock, sleep=clock.sleep)

    assert clock.sleeps == [5, 5, 2]  # the last nap ends at the deadline, for one more poll there
    assert len(reader.polled) == 4


def test_given_a_few_transient_failures_when_watched_then_it_notes_them_and_goes_on() -> None:
    unavailable = ApiError(503, "STORE_UNAVAILABLE", "try again")
    reader = ScriptedReader([RUNNING, unavailable, unavailable, RUNNING, unavailable, job("completed", [slide(1)])])
    view, clock = RecordingView(), FakeClock()

    result = watch_job(reader, JOB_ID, view, interval=1, clock=clock, sleep=clock.sleep)

    assert result == ExitCode.OK
    assert view.shown == ["generating", "generating", "completed"]
    assert view.notes == ["poll failed (STORE_UNAVAILABLE: try again); polling again in 1 s"] * 3


def test_given_transient_failures_in_a_row_when_watched_then_the_last_one_ends_the_watch() -> None:
    reader = ScriptedReader([RUNNING, *[ApiError(None, "NETWORK_ERROR", "refused")] * FAILED_POLLS_TOLERATED])
    clock = FakeClock()

    with pytest.raises(ApiError, match="NETWORK_ERROR"):
        watch_job(reader, JOB_ID, RecordingView(), interval=1, clock=clock, sleep=clock.sleep)

    assert len(reader.polled) == 1 + FAILED_POLLS_TOLERATED


def test_given_a_refusal_when_watched_then_it_ends_the_watch_at_once() -> None:
    reader = ScriptedReader([ApiError(404, "JOB_NOT_FOUND", "no such job")])
    view, clock = RecordingView(), FakeClock()

    with pytest.raises(ApiError, match="JOB_NOT_FOUND"):
        watch_job(reader, JOB_ID, view, interval=1, clock=clock, sleep=clock.sleep)

    assert (view.notes, clock.sleeps) == ([], [])
