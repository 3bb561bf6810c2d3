"""One active job per story.

Each job claims the next sequence number of its story's lock with a create-if-absent write,
in the same commit that creates the job, so of any number of concurrent starts exactly one
wins. A claim ends when its job ends (released in the job's final commit). A job that can no
longer finish (its execution was stopped from outside, or its start crashed before the
execution began) does not hold the story: the next start sees that and takes over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from storyimages.domain.jobs import MasterJob

# A start writes the job and then starts its execution within milliseconds; a job with no
# execution for longer than this was left behind by a start that crashed in between.
START_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class LockHolder:
    story_id: str
    seq: int
    job_id: str
    released: bool = False


def next_claim(holder: LockHolder | None) -> int:
    """The sequence number the next run of the story claims."""
    return holder.seq + 1 if holder else 1


class ExecutionState(StrEnum):
    RUNNING = "running"
    ENDED = "ended"
    MISSING = "missing"


def holds_story(job: MasterJob | None, execution: ExecutionState, *, age: timedelta) -> bool:
    """Whether `job` (the current holder's job, `age` since its last write) still holds its story."""
    if job is None or job.status.is_terminal:
        return False
    if execution is ExecutionState.RUNNING:
        return True
    return execution is ExecutionState.MISSING and age < START_GRACE
