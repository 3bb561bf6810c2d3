"""What a job's status means to the CLI: whether it has ended, and the exit code of each ending."""

from __future__ import annotations

import pytest

from storyimages_cli.outcome import JOB_STATUSES, ExitCode, exit_code_for, job_has_ended


@pytest.mark.parametrize(
    ("status", "code"),
    [("completed", 0), ("completed_with_errors", 2), ("failed", 3), ("cancelled", 4)],
)
def test_given_an_ending_when_asked_for_the_exit_code_then_it_is_the_documented_one(status: str, code: int) -> None:
    assert job_has_ended(status)
    assert exit_code_for(status) == code


@pytest.mark.parametrize("status", ["pending", "generating", "paused-in-some-future-version"])
def test_given_a_running_or_unknown_status_when_asked_then_it_has_not_ended_and_has_no_exit_code(status: str) -> None:
    assert not job_has_ended(status)
    with pytest.raises(ValueError, match="has not ended"):
        exit_code_for(status)


def test_given_every_job_status_when_classified_then_exactly_the_four_endings_have_ended() -> None:
    assert [s for s in JOB_STATUSES if job_has_ended(s)] == [
        "completed",
        "completed_with_errors",
        "failed",
        "cancelled",
    ]


def test_given_the_exit_codes_when_listed_then_errors_and_timeouts_are_apart_from_the_endings() -> None:
    assert (ExitCode.ERROR, ExitCode.WATCH_TIMED_OUT) == (1, 5)
    assert len(set(ExitCode)) == len(ExitCode.__members__)
