"""End a job: from its slides when the workflow finished, or as failed when the workflow broke."""

from __future__ import annotations

from storyimages.domain.errors import JobNotFound
from storyimages.domain.jobs import JobError, JobStatus, MasterJob, Summary
from storyimages.domain.ports import Clock, JobStore

NO_IMAGES = JobError("NO_IMAGES_GENERATED", "no slide could be illustrated; see each slide's error")
NOT_PROCESSED = JobError("SLIDE_NOT_PROCESSED", "the workflow ended before this slide was processed")


def finalize_job(job_id: str, *, jobs: JobStore, clock: Clock) -> tuple[JobStatus, Summary]:
    """`completed` when every slide has its image, `completed_with_errors` when some do,
    `failed` when none do. Repeating it changes nothing."""
    job = _existing(job_id, jobs)
    if job.status.is_terminal:
        return job.status, job.summary()
    summary = job.with_unfinished_skipped(NOT_PROCESSED).summary()
    status = summary.final_status()
    jobs.finish_job(
        job_id,
        status,
        clock.now(),
        error=NO_IMAGES if status is JobStatus.FAILED else None,
        skipped_slides=dict.fromkeys(job.unfinished_slides(), NOT_PROCESSED),
    )
    return status, summary


def mark_job_failed(job_id: str, error: JobError, *, jobs: JobStore, clock: Clock) -> Summary:
    """The workflow itself broke: the job is failed, slides not yet processed are skipped,
    images already made stay."""
    job = _existing(job_id, jobs)
    if job.status.is_terminal:
        return job.summary()
    jobs.finish_job(
        job_id,
        JobStatus.FAILED,
        clock.now(),
        error=error,
        skipped_slides=dict.fromkeys(job.unfinished_slides(), NOT_PROCESSED),
    )
    return job.with_unfinished_skipped(NOT_PROCESSED).summary()


def _existing(job_id: str, jobs: JobStore) -> MasterJob:
    job = jobs.get_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist")
    return job
