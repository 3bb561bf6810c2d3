"""Work from the image queue: every story's slides wait there for the image capacity they
share, and a worker takes one, generates its image and answers the workflow task waiting on it.

The workflow owns the retries: a failure is reported by the error's name, exactly as a Lambda
error's type would be, so the task's Retry and Catch match it as before. Work whose task no
longer waits (its job was cancelled, its execution stopped) is dropped; a job that ended is
never paid for (`generate_slide_image` checks before calling the image service).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from storyimages.domain.errors import ImageRateLimited, StoryImagesError, TaskGone
from storyimages.domain.ports import Clock, ImageGenerator, ImageStorage, JobStore, TaskReports
from storyimages.domain.slide_generation import SlideOutcome, generate_slide_image


@dataclass(frozen=True)
class ImageWork:
    """One message of the image queue."""

    job_id: str
    slide_number: int
    run: int | None
    task_token: str


@dataclass(frozen=True)
class WorkDone:
    work: ImageWork
    outcome: SlideOutcome | None  # None when the work failed
    error: str | None = None  # the name reported to the workflow
    message: str | None = None
    unexpected: bool = False  # not one of our named errors: a defect, for the log
    answered: bool = True  # False when no task waited any more


def work_on_image(
    work: ImageWork,
    *,
    jobs: JobStore,
    images: ImageGenerator,
    storage: ImageStorage,
    clock: Clock,
    tasks: TaskReports,
    hold: Callable[[float], None],
    longest_hold_seconds: float,
    observe: Callable[[WorkDone], None] = lambda done: None,
) -> WorkDone:
    """Generate the slide's image and answer its task. Raises only when the answer could not
    be delivered for a reason other than TaskGone (the message then comes back later, and
    the image, already stored, is not paid for again).

    A rate limit's Retry-After is honoured by holding the answer (and the worker's slot, so
    the queue slows down with it) that long, up to `longest_hold_seconds`: the task's retry,
    whatever its jittered interval, then asks no sooner than the image service said to.

    `observe` sees what was done before the task is answered: an answer that fails makes the
    message come back, and its next attempt finds the slide already done."""
    try:
        outcome = generate_slide_image(
            work.job_id, work.slide_number, jobs=jobs, images=images, storage=storage, clock=clock, run=work.run
        )
    except Exception as error:  # every failure goes back to the task, by name
        if isinstance(error, ImageRateLimited) and error.retry_after_seconds:
            hold(min(error.retry_after_seconds, longest_hold_seconds))
        done = WorkDone(
            work,
            None,
            error=type(error).__name__,
            message=error.message if isinstance(error, StoryImagesError) else str(error),
            unexpected=not isinstance(error, StoryImagesError),
        )
        observe(done)
        cause = json.dumps({"errorType": done.error, "errorMessage": done.message})
        return _answered(done, lambda: tasks.fail(work.task_token, done.error or "", cause))
    done = WorkDone(work, outcome)
    observe(done)
    output = {"slideNumber": outcome.slide_number, "status": outcome.status.value, "imageKey": outcome.image_key}
    return _answered(done, lambda: tasks.succeed(work.task_token, output))


def _answered(done: WorkDone, answer: Callable[[], None]) -> WorkDone:
    try:
        answer()
    except TaskGone:
        return replace(done, answered=False)
    return done
