"""End a run of a job: decided once, by whichever of its enders claims it first.

A run can be ended by the workflow finishing its slides, by the owner cancelling, by the
workflow breaking, by the execution ending without any of these (stopped from the console,
failed where nothing could record it), or by a later start finding it without a live
execution. Each of them calls `end_run`; the job store's create-if-absent claim lets exactly
one of them write the ending, and every other one reads that ending back and goes by it, so a
run has one ending and one webhook.

Before ending, every slide without a recorded image is checked in storage: an image a task
stored but could not record (the job store was down) is recorded now, never left behind or
paid for again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from storyimages.domain.job_status import existing_job
from storyimages.domain.jobs import (
    EndedBy,
    JobError,
    JobStatus,
    MasterJob,
    RunEnding,
    SlideStatus,
    Summary,
    image_key,
)
from storyimages.domain.ports import Clock, ImageStorage, JobStore, Notifier

NO_IMAGES = JobError("NO_IMAGES_GENERATED", "no slide could be illustrated; see each slide's error")
STOPPED = JobError("WORKFLOW_STOPPED", "the job's execution was stopped before it finished")
WORKFLOW_FAILED = "the workflow stopped before it could finish this job ({reason}); images already made stay"


@dataclass(frozen=True)
class EndedRun:
    job: MasterJob  # as it reads now
    ending: RunEnding  # the run's one ending
    decided_here: bool  # whether this caller's claim is the one that holds


def end_run(
    job: MasterJob,
    decide: Callable[[MasterJob], tuple[JobStatus, JobError | None]],
    by: EndedBy,
    *,
    jobs: JobStore,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> EndedRun:
    """End the job's current run as `decide` says (given the job with its stored images
    recorded) and start its webhook, unless another ender claimed the run first: then the
    job as that ending left it."""
    images = stored_images(job, storage)
    now = clock.now()
    recorded = job.with_images(images, now)
    status, error = decide(recorded)
    claimed = RunEnding(run=job.run, status=status, at=now, by=by, error=error)
    held = jobs.end_run(job, claimed, images=images)
    if held != claimed:
        # Another ender decided, and asks for the webhook itself (or its repeat will).
        return EndedRun(existing_job(job.job_id, jobs), held, decided_here=False)
    ended = replace(recorded.ended_as(status), error=error, finished_at=now)
    if ended.webhook_url:
        notifier.job_ended(ended)
    return EndedRun(ended, held, decided_here=True)


def stored_images(job: MasterJob, storage: ImageStorage) -> dict[int, str]:
    """Slides not recorded completed whose image is in storage all the same."""
    found = {}
    for number, slide in job.slides.items():
        if slide.status is SlideStatus.COMPLETED:
            continue
        key = image_key(job, number)
        if storage.exists(key):
            found[number] = key
    return found


def finalize_job(
    job_id: str,
    run: int | None,
    *,
    jobs: JobStore,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> tuple[JobStatus, Summary]:
    """`completed` when every slide has its image, `completed_with_errors` when some do,
    `failed` when none do; then the webhook, if the job asked for one. Repeating it, or
    losing to a cancel, returns the ending that holds."""
    job = existing_job(job_id, jobs)
    stale = _ending_of_another_run(job, run, jobs)
    if stale is not None:
        return stale.status, job.summary()

    def from_slides(recorded: MasterJob) -> tuple[JobStatus, JobError | None]:
        status = recorded.summary().final_status()
        return status, NO_IMAGES if status is JobStatus.FAILED else None

    if job.status.is_terminal:
        return _already_ended(job, notifier)
    ended = end_run(job, from_slides, EndedBy.FINALIZE, jobs=jobs, storage=storage, notifier=notifier, clock=clock)
    return ended.ending.status, ended.job.summary()


def mark_job_failed(
    job_id: str,
    run: int | None,
    error: JobError,
    *,
    jobs: JobStore,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> tuple[JobStatus, Summary]:
    """The workflow itself broke: the job is failed, slides not yet processed are skipped,
    images already made stay. If it broke after every slide was done (finalizing could not
    reach the store), the job ends as its slides say, as finalize would have ended it."""
    job = existing_job(job_id, jobs)
    stale = _ending_of_another_run(job, run, jobs)
    if stale is not None:
        return stale.status, job.summary()
    if job.status.is_terminal:
        return _already_ended(job, notifier)
    ended = end_run(
        job,
        lambda recorded: _failed_unless_done(recorded, error),
        EndedBy.WORKFLOW_FAILURE,
        jobs=jobs,
        storage=storage,
        notifier=notifier,
        clock=clock,
    )
    return ended.ending.status, ended.job.summary()


def end_abandoned_run(
    job_id: str,
    run: int,
    execution_status: str,
    error_name: str | None,
    *,
    jobs: JobStore,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> RunEnding | None:
    """The run's execution ended (`execution_status`: FAILED, TIMED_OUT or ABORTED). If the
    job still reads open, nothing else will end it: end it here, as cancelled when the
    execution was stopped, as failed otherwise (or as its slides say, if every one was done).
    None when there was nothing to do."""
    job = jobs.get_job(job_id)
    if job is None or job.run != run or job.status.is_terminal:
        return None

    def decide(recorded: MasterJob) -> tuple[JobStatus, JobError | None]:
        if execution_status == "ABORTED":
            return JobStatus.CANCELLED, STOPPED
        # Names only: an execution's cause can name AWS resources.
        failure = JobError("WORKFLOW_FAILED", WORKFLOW_FAILED.format(reason=error_name or execution_status))
        return _failed_unless_done(recorded, failure)

    ended = end_run(
        job,
        decide,
        EndedBy.EXECUTION_ENDED,
        jobs=jobs,
        storage=storage,
        notifier=notifier,
        clock=clock,
    )
    return ended.ending if ended.decided_here else None


def _failed_unless_done(recorded: MasterJob, error: JobError) -> tuple[JobStatus, JobError | None]:
    """Failed with `error`, unless every slide was done already: then as the slides say."""
    summary = recorded.summary()
    if summary.in_progress:
        return JobStatus.FAILED, error
    status = summary.final_status()
    return status, (NO_IMAGES if status is JobStatus.FAILED else None)


def _ending_of_another_run(job: MasterJob, run: int | None, jobs: JobStore) -> RunEnding | None:
    """For a task of an earlier run arriving after a retry started a new one: that run's ending."""
    if run is None or run == job.run:
        return None
    return jobs.get_ending(job.job_id, run) or RunEnding(
        run=run, status=JobStatus.FAILED, at=job.updated_at, by=EndedBy.LOST
    )


def _already_ended(job: MasterJob, notifier: Notifier) -> tuple[JobStatus, Summary]:
    """A repeated end: the webhook is asked for again (the same delivery), nothing is written."""
    if job.webhook_url:
        notifier.job_ended(job)
    return job.status, job.summary()
