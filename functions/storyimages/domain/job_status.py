"""What the app polls: the master job, every slide job and a summary, from one document read."""

from __future__ import annotations

from dataclasses import dataclass

from storyimages.domain.errors import JobNotFound
from storyimages.domain.identity import Caller
from storyimages.domain.jobs import MasterJob, SlideState, Summary, slide_job_id
from storyimages.domain.ports import ImageStorage, JobStore


@dataclass(frozen=True)
class SlideView:
    job_id: str
    state: SlideState
    image_url: str | None


@dataclass(frozen=True)
class JobView:
    job: MasterJob
    slides: list[SlideView]
    summary: Summary


def existing_job(job_id: str, jobs: JobStore) -> MasterJob:
    job = jobs.get_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist")
    return job


def owned_job(job_id: str, caller: Caller, jobs: JobStore) -> MasterJob:
    """The caller's job; another user's job reads exactly like a missing one."""
    job = jobs.get_job(job_id)
    if job is None or job.owner_id != caller.uid:
        raise JobNotFound(f"job {job_id!r} does not exist")
    return job


def get_job_status(job_id: str, caller: Caller, *, jobs: JobStore, storage: ImageStorage) -> JobView:
    return job_view(owned_job(job_id, caller, jobs), storage)


def job_view(job: MasterJob, storage: ImageStorage) -> JobView:
    slides = [
        SlideView(
            job_id=slide_job_id(job.job_id, number),
            state=state,
            image_url=storage.url_for(state.image_key) if state.image_key else None,
        )
        for number, state in sorted(job.visible_slides().items())
    ]
    return JobView(job=job, slides=slides, summary=job.summary())
