"""End a job: from its slides when the workflow finished, or as failed when the workflow broke."""

from __future__ import annotations

from storyimages.domain.errors import JobNotFound
from storyimages.domain.jobs import JobError, JobStatus, MasterJob, Summary
from storyimages.domain.ports import Clock, JobStore, Notifier

NO_IMAGES = JobError("NO_IMAGES_GENERATED", "no slide could be illustrated; see each slide's error")
NOT_PROCESSED = JobError("SLIDE_NOT_PROCESSED", "the workflow ended before this slide was processed")


def finalize_job(job_id: str, *, jobs: JobStore, notifier: Notifier, clock: Clock) -> tuple[JobStatus, Summary]:
    """`completed` when every slide has its image, `completed_with_errors` when some do,
    `failed` when none do; then the webhook, if the job asked for one. Repeating it changes
    nothing (a repeated webhook start is the same delivery)."""
    job = existing_job(job_id, jobs)
    if job.status.is_terminal:
        _notify(job, job.status, notifier)
        return job.status, job.summary()
    summary = job.with_unfinished_skipped(NOT_PROCESSED).summary()
    status = summary.final_status()
    jobs.finish_job(
        job,
        status,
        clock.now(),
        error=NO_IMAGES if status is JobStatus.FAILED else None,
        skipped_slides=dict.fromkeys(job.unfinished_slides(), NOT_PROCESSED),
    )
    _notify(job, status, notifier)
    return status, summary


def mark_job_failed(job_id: str, error: JobError, *, jobs: JobStore, notifier: Notifier, clock: Clock) -> Summary:
    """The workflow itself broke: the job is failed, slides not yet processed are skipped,
    images already made stay."""
    job = existing_job(job_id, jobs)
    if job.status.is_terminal:
        _notify(job, job.status, notifier)
        return job.summary()
    jobs.finish_job(
        job,
        JobStatus.FAILED,
        clock.now(),
        error=error,
        skipped_slides=dict.fromkeys(job.unfinished_slides(), NOT_PROCESSED),
    )
    _notify(job, JobStatus.FAILED, notifier)
    return job.with_unfinished_skipped(NOT_PROCESSED).summary()


def _notify(job: MasterJob, status: JobStatus, notifier: Notifier) -> None:
    if job.webhook_url:
        notifier.job_ended(job, status)


def existing_job(job_id: str, jobs: JobStore) -> MasterJob:
    job = jobs.get_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist")
    return job
