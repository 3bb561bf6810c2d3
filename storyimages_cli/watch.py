"""Watching a job: poll its status until it ends (or the watch's deadline passes), showing every answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from storyimages_cli.api import ApiError
from storyimages_cli.outcome import ExitCode, exit_code_for, job_has_ended

# A store or gateway hiccup should not end a watch of a long job; this many failed polls in a row should.
FAILED_POLLS_TOLERATED = 3


class JobReader(Protocol):
    def status(self, job_id: str) -> dict[str, Any]: ...


class ProgressView(Protocol):
    def update(self, data: Mapping[str, Any]) -> None: ...

    def note(self, message: str) -> None: ...


class WatchTimedOut(Exception):
    def __init__(self, job_id: str, status: str, seconds: float) -> None:
        super().__init__(
            f"{job_id} is still {status} after {seconds:.0f} s of watching; the job goes on"
            f" (`watch {job_id}` watches it again)"
        )


def watch_job(
    reader: JobReader,
    job_id: str,
    view: ProgressView,
    *,
    interval: float,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ExitCode:
    """The exit code of the job's ending; WatchTimedOut past `timeout` seconds; ApiError when polls keep failing."""
    started = clock()
    deadline = None if timeout is None else started + timeout
    failed_polls = 0
    status = "unknown"
    while True:
        try:
            data = reader.status(job_id)
        except ApiError as error:
            failed_polls += 1
            if not error.transient or failed_polls >= FAILED_POLLS_TOLERATED:
                raise
            view.note(f"poll failed ({error}); polling again in {interval:g} s")
        else:
            failed_polls = 0
            view.update(data)
            status = data["masterJob"]["status"]
            if job_has_ended(status):
                return exit_code_for(status)
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                raise WatchTimedOut(job_id, status, clock() - started)
            sleep(min(interval, remaining))
        else:
            sleep(interval)
