"""A run of a job is one Step Functions execution; a job holds its story while a run is alive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from aws_lambda_powertools import Logger

from storyimages.domain.errors import StoreUnavailable, WorkflowStartFailed
from storyimages.domain.job_completion import end_run
from storyimages.domain.jobs import EndedBy, JobError, JobStatus, MasterJob
from storyimages.domain.ports import Clock, ImageStorage, JobStore, Notifier, Workflow
from storyimages.domain.story_lock import LockHolder, holds_story

logger = Logger()
WORKFLOW_LOST = JobError("WORKFLOW_LOST", "the job's execution ended without finishing it")


def execution_input(job: MasterJob, slides: list[int], max_concurrency: int) -> dict[str, Any]:
    """Ids and numbers only: prompts and images stay in Firestore and S3 (256 KiB payload cap)."""
    return {
        "masterJobId": job.job_id,
        "run": job.run,
        "firstSlide": slides[0],
        "remainingSlides": slides[1:],
        "delaySeconds": job.delay_seconds,
        "maxConcurrency": max_concurrency,
    }


def start_execution(
    job: MasterJob,
    slides: list[int],
    *,
    jobs: JobStore,
    workflow: Workflow,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
    max_concurrency: int,
) -> None:
    try:
        workflow.start(job.execution_name, execution_input(job, slides, max_concurrency))
    except WorkflowStartFailed as exc:
        # Leave no job that looks alive but has nothing behind it, and free the story.
        reason = JobError(exc.code, exc.message)
        _end_quietly(job, reason, EndedBy.START_FAILED, jobs, storage, notifier, clock)
        raise


@contextmanager
def starting_in_doubt(job: MasterJob, slides: list[int], *, workflow: Workflow, max_concurrency: int) -> Iterator[None]:
    """Around the commit that creates (or restarts) a run. If the store gave no answer, the
    commit may still land (a stalled connection delivers it later): start the run's execution
    all the same, so such a run is run, and one whose commit never landed ends at once (its
    tasks find no job). The caller is still told the store was unavailable."""
    try:
        yield
    except StoreUnavailable:
        with suppress(WorkflowStartFailed):
            workflow.start(job.execution_name, execution_input(job, slides, max_concurrency))
        raise


def holding_job(
    holder: LockHolder | None,
    *,
    jobs: JobStore,
    workflow: Workflow,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> MasterJob | None:
    """The job that holds the story, or None when it is free. A job that can no longer finish
    is marked failed here, so it does not read as running forever."""
    if holder is None or holder.released:
        return None
    job = jobs.get_job(holder.job_id)
    if job is None or job.status.is_terminal:
        return None
    if holds_story(job, workflow.state(job.execution_name), age=clock.now() - job.updated_at):
        return job
    _end_quietly(job, WORKFLOW_LOST, EndedBy.LOST, jobs, storage, notifier, clock)
    return None


def _end_quietly(
    job: MasterJob,
    error: JobError,
    by: EndedBy,
    jobs: JobStore,
    storage: ImageStorage,
    notifier: Notifier,
    clock: Clock,
) -> None:
    """End the run as failed; a webhook that cannot be started must not fail the caller (the
    job reads failed, which is what matters)."""
    try:
        end_run(
            job, lambda _: (JobStatus.FAILED, error), by, jobs=jobs, storage=storage, notifier=notifier, clock=clock
        )
    except WorkflowStartFailed:
        logger.warning("could not notify the end of a job", masterJobId=job.job_id, endedBy=by.value)
