"""What a job's status means to the CLI: whether the job has ended, and the exit code each ending gets.

The one place these decisions are made; the watch loop, the renderers and the commands ask here.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    """The API refused, the network failed, or the command line was wrong."""
    COMPLETED_WITH_ERRORS = 2
    FAILED = 3
    CANCELLED = 4
    WATCH_TIMED_OUT = 5
    """Watching stopped at --timeout; the job itself goes on."""


JOB_STATUSES = ("pending", "generating", "completed", "completed_with_errors", "failed", "cancelled")
SLIDE_STATUSES = ("pending", "queued", "generating", "completed", "failed", "skipped")

_EXIT_CODE_BY_ENDING = {
    "completed": ExitCode.OK,
    "completed_with_errors": ExitCode.COMPLETED_WITH_ERRORS,
    "failed": ExitCode.FAILED,
    "cancelled": ExitCode.CANCELLED,
}
_ENDED_SLIDE_STATUSES = frozenset({"completed", "failed", "skipped"})


def job_has_ended(status: str) -> bool:
    """Only the four endings stop a watch: a status this CLI does not know yet is watched on, not taken as an end."""
    return status in _EXIT_CODE_BY_ENDING


def exit_code_for(status: str) -> ExitCode:
    """The exit code of a watch that saw the job end as `status`."""
    try:
        return _EXIT_CODE_BY_ENDING[status]
    except KeyError:
        raise ValueError(f"a job that is {status!r} has not ended") from None


def slide_has_ended(status: str) -> bool:
    return status in _ENDED_SLIDE_STATUSES
