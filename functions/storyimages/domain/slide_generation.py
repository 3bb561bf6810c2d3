"""Generate one slide's image, or record why it could not be generated.

Both are safe to repeat: a completed slide is never generated or overwritten again, an image
already stored by an earlier attempt (of this run or an earlier one, whatever its slide was
recorded as) is recorded instead of paid for twice, and a failure never turns a slide whose
image is stored into a failed one.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyimages.domain.errors import JobNotFound, SlideNotFound
from storyimages.domain.job_status import existing_job
from storyimages.domain.jobs import JobError, MasterJob, SlideState, SlideStatus, image_key
from storyimages.domain.ports import Clock, ImageGenerator, ImageRequest, ImageStorage, JobStore
from storyimages.domain.story import image_prompt


@dataclass(frozen=True)
class SlideOutcome:
    job_id: str
    slide_number: int
    status: SlideStatus
    image_key: str | None
    used_reference: bool = False
    became_reference: bool = False
    reused: bool = False
    recorded_now: bool = False  # this call recorded the slide's end (not a repeat finding it done)
    queued_seconds: float | None = None  # from joining the image queue to this attempt taking it


def queue_slide(job_id: str, slide_number: int, *, jobs: JobStore, clock: Clock) -> SlideOutcome:
    """Record that the slide joins the image queue (it reads `queued` until a worker takes it);
    a slide with its image, or a job that has ended, is left as it is."""
    job = existing_job(job_id, jobs)
    state = _slide_of(job, slide_number)
    if state.status is SlideStatus.COMPLETED or job.status.is_terminal:
        return SlideOutcome(job_id, slide_number, state.status, state.image_key, reused=True)
    jobs.mark_slide_queued(job_id, slide_number, clock.now())
    return SlideOutcome(job_id, slide_number, SlideStatus.QUEUED, None)


def generate_slide_image(
    job_id: str,
    slide_number: int,
    *,
    jobs: JobStore,
    images: ImageGenerator,
    storage: ImageStorage,
    clock: Clock,
    run: int | None = None,
) -> SlideOutcome:
    """`run` names the run the work was queued by: work of a run that is no longer the job's
    (or of a job that has ended, say cancelled while the slide waited) is dropped unpaid."""
    job, slide_job = jobs.get_slide_work(job_id, slide_number)
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist")
    state = _slide_of(job, slide_number)
    if slide_job is None:
        raise SlideNotFound(f"job {job_id!r} has no slide job for slide {slide_number}")
    stale = run is not None and run != job.run
    if state.status is SlideStatus.COMPLETED or job.status.is_terminal or stale:
        return SlideOutcome(job_id, slide_number, state.status, state.image_key, reused=True)

    key = image_key(job, slide_number)
    reference_key = _reference_for(job, slide_number)
    taken_at = clock.now()
    queued_seconds = (
        (taken_at - state.queued_at).total_seconds()
        if state.status is SlideStatus.QUEUED and state.queued_at is not None
        else None
    )
    if state.status is not SlideStatus.GENERATING:
        jobs.mark_slide_generating(job_id, slide_number, taken_at)

    # One HEAD per slide: an attempt that stored the image but could not record it (the job
    # store was down, the function timed out) must not pay for it again.
    reused = storage.exists(key)
    if not reused:
        reference = storage.get(reference_key) if reference_key else None
        prompt = image_prompt(slide_job.prompt, with_reference=reference is not None)
        image = images.generate(ImageRequest(prompt=prompt, spec=job.image, reference=reference))
        storage.put(key, image.data, job.image.content_type)

    # The first slide that succeeds is the reference; normally that is the first slide, but
    # if it failed, the next success takes its place so the rest of the story stays consistent.
    becomes_reference = job.use_character_consistency and job.reference_image_key is None
    jobs.mark_slide_completed(job_id, slide_number, key, clock.now(), as_reference=becomes_reference)
    return SlideOutcome(
        job_id,
        slide_number,
        SlideStatus.COMPLETED,
        key,
        used_reference=reference_key is not None,
        became_reference=becomes_reference,
        reused=reused,
        recorded_now=True,
        queued_seconds=queued_seconds,
    )


def record_slide_failure(
    job_id: str, slide_number: int, error: JobError, *, jobs: JobStore, storage: ImageStorage, clock: Clock
) -> SlideOutcome:
    """Record why the slide has no image; but if its image is stored after all (the attempt
    that stored it failed to record it), record it completed instead."""
    job = existing_job(job_id, jobs)
    state = _slide_of(job, slide_number)
    if state.status is SlideStatus.COMPLETED:
        return SlideOutcome(job_id, slide_number, state.status, state.image_key, reused=True)
    key = image_key(job, slide_number)
    if state.status is SlideStatus.FAILED and state.error == error:
        return SlideOutcome(job_id, slide_number, state.status, None)  # a repeat: recorded already
    if storage.exists(key):
        becomes_reference = job.use_character_consistency and job.reference_image_key is None
        jobs.mark_slide_completed(job_id, slide_number, key, clock.now(), as_reference=becomes_reference)
        return SlideOutcome(
            job_id,
            slide_number,
            SlideStatus.COMPLETED,
            key,
            became_reference=becomes_reference,
            reused=True,
            recorded_now=True,
        )
    jobs.mark_slide_failed(job_id, slide_number, error, clock.now())
    return SlideOutcome(job_id, slide_number, SlideStatus.FAILED, None, recorded_now=True)


def _reference_for(job: MasterJob, slide_number: int) -> str | None:
    if not job.use_character_consistency or job.reference_slide == slide_number:
        return None
    return job.reference_image_key


def _slide_of(job: MasterJob, slide_number: int) -> SlideState:
    if slide_number not in job.slides:
        raise SlideNotFound(f"job {job.job_id!r} has no slide {slide_number}")
    return job.slide(slide_number)
