"""End a job: from its slides when the workflow finished, or as failed when the workflow broke."""

from __future__ import annotations

from storyimages.domain.job_status import existing_job
from storyimages.domain.jobs import JobError, JobStatus, MasterJob, Summary
from storyimages.domain.ports import Clock, JobStore, Notifier

NO_IMAGES = JobError("NO_IMAGES_GENERATED", "no slide could be illustrated; see each slide's error")


def finalize_job(job_id: str, *, jobs: JobStore, notifier: Notifier, clock: Clock) -> tuple[JobStatus, Summary]:
    """`completed` when every slide has its image, `completed_with_errors` when some do,
    `failed` when none do; then the webhook, if the job asked for one. Repeating it changes
    nothing (a repeated webhook start is the same delivery)."""
    job = existing_job(job_id, jobs)
    if job.status.is_terminal:
        _notify(job, job.status, notifier)
        return job.status, job.summary()
    status = job.summary().final_status()
    summary = job.ended_as(status).summary()
    jobs.finish_job(job, status, clock.now(), error=NO_IMAGES if status is JobStatus.FAILED else None)
    _notify(job, status, notifier)
    return status, summary


def mark_job_failed(job_id: str, error: JobError, *, jobs: JobStore, notifier: Notifier, clock: Clock) -> Summary:
    """The workflow itself broke: the job is failed, slides not yet processed are skipped,
    images already made stay."""
    job = existing_job(job_id, jobs)
    if job.status.is_terminal:
        _notify(job, job.status, notifier)
        return job.summary()
    jobs.finish_job(job, JobStatus.FAILED, clock.now(), error=error)
    _notify(job, JobStatus.FAILED, notifier)
    return job.ended_as(JobStatus.FAILED).summary()


def _notify(job: MasterJob, status: JobStatus, notifier: Notifier) -> None:
    if job.webhook_url:
        notifier.job_ended(job.ended_as(status))
