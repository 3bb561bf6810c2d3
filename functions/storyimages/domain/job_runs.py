"""A run of a job is one Step Functions execution; a job holds its story while a run is alive."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from storyimages.domain.errors import WorkflowStartFailed
from storyimages.domain.jobs import JobError, JobStatus, MasterJob
from storyimages.domain.ports import Clock, JobStore, Notifier, Workflow
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
    job: MasterJob, slides: list[int], *, jobs: JobStore, workflow: Workflow, clock: Clock, max_concurrency: int
) -> None:
    try:
        workflow.start(job.execution_name, execution_input(job, slides, max_concurrency))
    except WorkflowStartFailed as exc:
        # Leave no job that looks alive but has nothing behind it, and free the story.
        reason = JobError(exc.code, exc.message)
        jobs.finish_job(job, JobStatus.FAILED, clock.now(), error=reason)
        raise


def holding_job(
    holder: LockHolder | None, jobs: JobStore, workflow: Workflow, notifier: Notifier, clock: Clock
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
    jobs.finish_job(job, JobStatus.FAILED, clock.now(), error=WORKFLOW_LOST)
    if job.webhook_url:
        try:
            notifier.job_ended(job.ended_as(JobStatus.FAILED))
        except WorkflowStartFailed:
            # Recovering someone else's lost job must not fail this start; the job reads failed.
            logger.warning("could not notify the end of a lost job", masterJobId=job.job_id)
    return None
