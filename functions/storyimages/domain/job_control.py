"""What an owner can do to a job: cancel it, or run its failed slides again."""

from __future__ import annotations

from dataclasses import replace

from storyimages.domain.errors import (
    ClaimConflict,
    JobAlreadyFinished,
    JobStillRunning,
    NothingToRetry,
    StoryBusy,
)
from storyimages.domain.identity import Caller
from storyimages.domain.job_completion import end_run
from storyimages.domain.job_runs import holding_job, start_execution, starting_in_doubt
from storyimages.domain.job_status import owned_job
from storyimages.domain.jobs import EndedBy, JobStatus, MasterJob
from storyimages.domain.ports import Clock, ImageStorage, JobStore, Notifier, Workflow
from storyimages.domain.start_generation import GenerationConfig
from storyimages.domain.story_lock import next_claim


def cancel_job(
    job_id: str,
    caller: Caller,
    *,
    jobs: JobStore,
    workflow: Workflow,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> MasterJob:
    """End the run as cancelled, then stop its execution; slides no task finished read as
    skipped, images already made stay. If the run ended first (its last slide finished a
    moment before), that ending holds and the cancel is refused. Cancelling a cancelled job
    again changes nothing but asks for its webhook again (the same delivery), so a client
    that saw the first attempt fail can simply repeat it."""
    job = owned_job(job_id, caller, jobs)
    if job.status is JobStatus.CANCELLED:
        if job.webhook_url:
            notifier.job_ended(job)
        return job
    _refuse_if_ended(job)
    # Decided first: an outage here leaves the job as it was (the caller is told to try again).
    ended = end_run(
        job,
        lambda _: (JobStatus.CANCELLED, None),
        EndedBy.CANCEL,
        jobs=jobs,
        storage=storage,
        notifier=notifier,
        clock=clock,
    )
    _refuse_if_ended(ended.job)
    workflow.stop(job.execution_name, cause=f"cancelled by its owner {caller.uid}")
    return ended.job


def _refuse_if_ended(job: MasterJob) -> None:
    if job.status.is_terminal and job.status is not JobStatus.CANCELLED:
        raise JobAlreadyFinished(f"job {job.job_id!r} already ended as {job.status.value}")


def retry_failed_slides(
    job_id: str,
    caller: Caller,
    *,
    jobs: JobStore,
    workflow: Workflow,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
    config: GenerationConfig,
) -> MasterJob:
    """A new run over every slide that ended without an image, reusing the stored reference
    image; the job reads `generating` again until that run ends."""
    job = owned_job(job_id, caller, jobs)
    if not job.status.is_terminal:
        raise JobStillRunning(f"job {job_id!r} is still {job.status.value}; retry once it has ended")
    slides = job.slides_needing_images()
    if not slides:
        raise NothingToRetry(f"every slide of job {job_id!r} has its image")
    holder = jobs.current_lock(job.story_id)
    other = holding_job(holder, jobs=jobs, workflow=workflow, storage=storage, notifier=notifier, clock=clock)
    if other is not None:
        raise StoryBusy(f"job {other.job_id!r} is running for this story", details={"masterJobId": other.job_id})
    run = job.run + 1
    try:
        with starting_in_doubt(
            replace(job, run=run), slides, workflow=workflow, max_concurrency=config.max_concurrency
        ):
            jobs.restart_slides(job, slides, run=run, lock_seq=next_claim(holder), at=clock.now())
    except ClaimConflict:
        raise StoryBusy("another job for this story started a moment ago") from None
    restarted = owned_job(job_id, caller, jobs)
    start_execution(
        restarted,
        slides,
        jobs=jobs,
        workflow=workflow,
        storage=storage,
        notifier=notifier,
        clock=clock,
        max_concurrency=config.max_concurrency,
    )
    return restarted
