"""Conformance of the Firestore adapter against the emulator: exactly the operations it uses
(create, get, get_all, dotted-path update, batch commit), each one round trip."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.api_core.exceptions import AlreadyExists

from local_stack.firestore_meter import FirestoreMeter
from storyimages.adapters.firestore_jobs import FirestoreJobStore, FirestoreStories
from storyimages.domain.jobs import (
    ImageSpec,
    JobError,
    JobStatus,
    MasterJob,
    SlideJob,
    SlideState,
    SlideStatus,
    slide_job_id,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 24, 9, 0, 5, tzinfo=UTC)


@pytest.fixture
def store(stack) -> FirestoreJobStore:
    return FirestoreJobStore(lambda: stack.db)


@pytest.fixture
def job() -> MasterJob:
    job_id = f"auto-gen-conformance-{uuid.uuid4().hex[:10]}"
    return MasterJob(
        job_id=job_id,
        story_id="conformance",
        owner_id="user-1",
        status=JobStatus.PENDING,
        use_character_consistency=True,
        image=ImageSpec(model="gpt-image-2", size="1024x1024", quality="medium"),
        delay_seconds=2,
        slides={n: SlideState(number=n) for n in (1, 2, 3)},
        created_at=T0,
        updated_at=T0,
    )


def slide_jobs(job: MasterJob) -> list[SlideJob]:
    return [
        SlideJob(slide_job_id(job.job_id, n), job.job_id, job.story_id, n, prompt=f"Scene: {n}") for n in job.slides
    ]


def test_given_a_new_job_when_created_then_it_reads_back_equal_in_one_commit_and_one_read(store, job) -> None:
    with FirestoreMeter() as meter:
        store.create_job(job, slide_jobs(job))
        read = store.get_job(job.job_id)

    assert read == job
    assert len(meter.commits) == 1
    assert len(meter.commits[0]) == 4
    assert meter.reads == [[f"imageJobs/{job.job_id}"]]


def test_given_an_existing_job_when_created_again_then_it_is_refused_and_kept(store, job) -> None:
    store.create_job(job, slide_jobs(job))
    store.mark_slide_generating(job.job_id, 1, T1)

    with pytest.raises(AlreadyExists):
        store.create_job(job, slide_jobs(job))

    assert store.get_job(job.job_id).slide(1).status is SlideStatus.GENERATING


def test_given_a_job_when_slide_work_is_read_then_master_and_slide_come_in_one_read(store, job) -> None:
    store.create_job(job, slide_jobs(job))

    with FirestoreMeter() as meter:
        master, slide = store.get_slide_work(job.job_id, 2)

    assert master == job
    assert slide == slide_jobs(job)[1]
    assert len(meter.reads) == 1
    assert store.get_slide_work(job.job_id, 9) == (job, None)
    assert store.get_slide_work("auto-gen-missing-1", 1) == (None, None)


def test_given_slide_progress_when_recorded_then_each_step_is_one_commit_and_siblings_are_untouched(
    store, job, stack
) -> None:
    store.create_job(job, slide_jobs(job))

    with FirestoreMeter() as meter:
        store.mark_slide_generating(job.job_id, 1, T0)
        store.mark_slide_completed(job.job_id, 1, "images/x/slide-1.png", T1, as_reference=True)
        store.mark_slide_failed(job.job_id, 2, JobError("IMAGE_REJECTED", "policy"), T1)

    assert len(meter.commits) == 3
    assert all(
        sorted(c) == sorted([f"imageJobs/{job.job_id}", f"imageJobs/{job.job_id}-slide-{n}"])
        for c, n in zip(meter.commits, (1, 1, 2), strict=True)
    )
    read = store.get_job(job.job_id)
    assert read.status is JobStatus.GENERATING
    assert read.current_slide == 1
    assert read.slide(1) == SlideState(1, SlideStatus.COMPLETED, "images/x/slide-1.png", None, T0, T1)
    assert read.slide(2).status is SlideStatus.FAILED
    assert read.slide(2).error == JobError("IMAGE_REJECTED", "policy")
    assert read.slide(3) == SlideState(3)
    assert (read.reference_slide, read.reference_image_key) == (1, "images/x/slide-1.png")
    slide_doc = stack.db.collection("imageJobs").document(f"{job.job_id}-slide-1").get().to_dict()
    assert (slide_doc["status"], slide_doc["progress"], slide_doc["imageKey"]) == (
        "completed",
        100,
        "images/x/slide-1.png",
    )


def test_given_unfinished_slides_when_the_job_finishes_then_they_are_skipped_with_the_reason(store, job, stack) -> None:
    store.create_job(job, slide_jobs(job))
    store.mark_slide_generating(job.job_id, 1, T0)
    store.mark_slide_completed(job.job_id, 1, "k1", T0, as_reference=True)
    reason = JobError("SLIDE_NOT_PROCESSED", "ended early")

    with FirestoreMeter() as meter:
        store.finish_job(
            job.job_id, JobStatus.FAILED, T1, error=JobError("X", "y"), skipped_slides={2: reason, 3: reason}
        )

    read = store.get_job(job.job_id)
    assert len(meter.commits) == 1
    assert (read.status, read.finished_at, read.error) == (JobStatus.FAILED, T1, JobError("X", "y"))
    assert [read.slide(n).status for n in (1, 2, 3)] == [
        SlideStatus.COMPLETED,
        SlideStatus.SKIPPED,
        SlideStatus.SKIPPED,
    ]
    assert read.slide(3).error == reason
    assert stack.db.collection("imageJobs").document(f"{job.job_id}-slide-3").get().to_dict()["status"] == "skipped"


def test_given_stories_when_read_then_the_document_or_none(stack) -> None:
    story_id = f"story-{uuid.uuid4().hex[:8]}"
    stack.db.collection("stories").document(story_id).create({"ownerId": "u", "slides": [{"text": "x"}]})
    stories = FirestoreStories(lambda: stack.db)

    assert stories.get_story(story_id) == {"ownerId": "u", "slides": [{"text": "x"}]}
    assert stories.get_story("nobody-wrote-this") is None
