"""Conformance of the Firestore adapter against the emulator: exactly the operations it uses
(create, get, get_all, dotted-path update, batch commit, one ordered subcollection query),
each one round trip."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from local_stack.firestore_meter import FirestoreMeter
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.firestore_stories import FirestoreStories
from storyimages.domain.errors import ClaimConflict, JobNotFound
from storyimages.domain.idempotency import IdempotencyRecord
from storyimages.domain.jobs import (
    EndedBy,
    ImageSpec,
    JobError,
    JobStatus,
    MasterJob,
    RunEnding,
    SlideJob,
    SlideState,
    SlideStatus,
    WebhookOutcome,
    WebhookStatus,
    slide_job_id,
)
from storyimages.domain.story_lock import LockHolder

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 24, 9, 0, 5, tzinfo=UTC)


@pytest.fixture
def store(stack) -> FirestoreJobStore:
    return FirestoreJobStore(lambda: stack.db)


def new_job(story_id: str | None = None, *, seq: int = 1) -> MasterJob:
    story = story_id or f"conformance-{uuid.uuid4().hex[:10]}"
    return MasterJob(
        job_id=f"auto-gen-{story}-{uuid.uuid4().int % 10**13}",
        story_id=story,
        owner_id="user-1",
        status=JobStatus.PENDING,
        use_character_consistency=True,
        image=ImageSpec(model="gpt-image-2", size="1024x1024", quality="medium"),
        delay_seconds=2,
        slides={n: SlideState(number=n) for n in (1, 2, 3)},
        created_at=T0,
        updated_at=T0,
        webhook_url="https://hooks.example.com/x",
        lock_seq=seq,
    )


@pytest.fixture
def job() -> MasterJob:
    return new_job()


def slide_jobs(job: MasterJob) -> list[SlideJob]:
    return [
        SlideJob(slide_job_id(job.job_id, n), job.job_id, job.story_id, n, prompt=f"Scene: {n}") for n in job.slides
    ]


def test_given_a_new_job_when_created_then_it_reads_back_equal_and_claims_its_story_in_one_commit(
    store, job, stack
) -> None:
    with FirestoreMeter(stack.firestore) as meter:
        store.create_job(job, slide_jobs(job))
        read = store.get_job(job.job_id)

    assert read == job
    assert len(meter.commits) == 1
    assert sorted(meter.commits[0]) == sorted(
        [f"storyLocks/{job.story_id}/claims/0000000001", f"imageJobs/{job.job_id}"]
        + [f"imageJobs/{job.job_id}-slide-{n}" for n in (1, 2, 3)]
    )
    assert meter.reads == [[f"imageJobs/{job.job_id}"]]
    assert store.current_lock(job.story_id) == LockHolder(job.story_id, 1, job.job_id, released=False)


def test_given_a_claimed_seq_when_another_job_claims_it_then_conflict_and_nothing_of_it_is_written(store, job) -> None:
    store.create_job(job, slide_jobs(job))
    rival = replace(new_job(job.story_id), lock_seq=1)

    with pytest.raises(ClaimConflict):
        store.create_job(rival, slide_jobs(rival))

    assert store.get_job(rival.job_id) is None
    assert store.current_lock(job.story_id).job_id == job.job_id


def test_given_twenty_concurrent_claims_of_one_seq_when_committed_then_exactly_one_wins(store) -> None:
    story = f"race-{uuid.uuid4().hex[:8]}"
    rivals = [new_job(story) for _ in range(20)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(rivals))

    def claim(rival: MasterJob) -> None:
        barrier.wait()
        try:
            store.create_job(rival, slide_jobs(rival))
            outcomes.append("won")
        except ClaimConflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim, args=(r,)) for r in rivals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["lost"] * 19 + ["won"]
    winners = [r for r in rivals if store.get_job(r.job_id) is not None]
    assert len(winners) == 1
    assert store.current_lock(story).job_id == winners[0].job_id


def test_given_an_idempotency_record_when_created_with_the_job_then_it_reads_back_and_cannot_be_taken_twice(
    store, job
) -> None:
    record = IdempotencyRecord(uuid.uuid4().hex, "user-1", "hash-1", job.job_id, T0)
    store.create_job(job, slide_jobs(job), idempotency=record)
    other = new_job(seq=1)

    with pytest.raises(ClaimConflict):
        store.create_job(other, slide_jobs(other), idempotency=record)

    assert store.get_idempotency(record.key_id) == record
    assert store.get_idempotency("unknown") is None
    assert store.get_job(other.job_id) is None


def test_given_a_job_when_slide_work_is_read_then_master_and_slide_come_in_one_read(store, job, stack) -> None:
    store.create_job(job, slide_jobs(job))

    with FirestoreMeter(stack.firestore) as meter:
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

    with FirestoreMeter(stack.firestore) as meter:
        store.mark_slide_generating(job.job_id, 1, T0)
        store.mark_slide_completed(job.job_id, 1, "images/x/slide-1.png", T1, as_reference=True)
        store.mark_slide_failed(job.job_id, 2, JobError("IMAGE_REJECTED", "policy"), T1)

    assert [sorted(c) for c in meter.commits] == [
        sorted([f"imageJobs/{job.job_id}", f"imageJobs/{job.job_id}-slide-{n}"]) for n in (1, 1, 2)
    ]
    read = store.get_job(job.job_id)
    assert read.status is JobStatus.PENDING  # slide tasks never write the job's status
    assert (read.visible_status, read.current_slide) == (JobStatus.GENERATING, 1)
    assert read.slide(1) == SlideState(1, SlideStatus.COMPLETED, "images/x/slide-1.png", None, T0, T1)
    assert read.slide(2).error == JobError("IMAGE_REJECTED", "policy")
    assert read.slide(3) == SlideState(3)
    assert (read.reference_slide, read.reference_image_key) == (1, "images/x/slide-1.png")
    slide_doc = stack.db.collection("imageJobs").document(f"{job.job_id}-slide-1").get().to_dict()
    assert (slide_doc["status"], slide_doc["progress"], slide_doc["imageKey"]) == (
        "completed",
        100,
        "images/x/slide-1.png",
    )


def ending(
    status: JobStatus, by: EndedBy = EndedBy.FINALIZE, *, run: int = 0, error: JobError | None = None
) -> RunEnding:
    return RunEnding(run=run, status=status, at=T1, by=by, error=error)


def test_given_a_job_when_it_ends_then_one_commit_sets_its_end_and_releases_its_story_leaving_slides_alone(
    store, job, stack
) -> None:
    store.create_job(job, slide_jobs(job))
    store.mark_slide_completed(job.job_id, 1, "k1", T0, as_reference=True)

    with FirestoreMeter(stack.firestore) as meter:
        held = store.end_run(job, ending(JobStatus.FAILED, error=JobError("X", "y")), images={})

    read = store.get_job(job.job_id)
    assert held == ending(JobStatus.FAILED, error=JobError("X", "y"))
    assert store.get_ending(job.job_id, 0) == held
    assert len(meter.commits) == 1
    assert (read.status, read.finished_at, read.error) == (JobStatus.FAILED, T1, JobError("X", "y"))
    assert [read.slide(n).status for n in (1, 2, 3)] == [SlideStatus.COMPLETED] + [SlideStatus.PENDING] * 2
    assert [read.visible_slides()[n].status for n in (1, 2, 3)] == [SlideStatus.COMPLETED] + [SlideStatus.SKIPPED] * 2
    assert store.current_lock(job.story_id).released


def test_given_a_finished_job_when_restarted_then_one_commit_resets_its_slides_under_a_new_claim(
    store, job, stack
) -> None:
    store.create_job(job, slide_jobs(job))
    store.mark_slide_completed(job.job_id, 1, "k1", T0, as_reference=True)
    store.mark_slide_failed(job.job_id, 2, JobError("IMAGE_REJECTED", "no"), T0)
    store.record_webhook(job.job_id, WebhookOutcome("image_job.failed", WebhookStatus.DELIVERED, 1, 200, None, T0))
    store.end_run(store.get_job(job.job_id), ending(JobStatus.COMPLETED_WITH_ERRORS), images={})

    with FirestoreMeter(stack.firestore) as meter:
        store.restart_slides(store.get_job(job.job_id), [2, 3], run=1, lock_seq=2, at=T1)

    read = store.get_job(job.job_id)
    assert len(meter.commits) == 1
    assert (read.status, read.run, read.lock_seq, read.finished_at, read.webhook) == (
        JobStatus.PENDING,
        1,
        2,
        None,
        None,
    )
    assert [read.slide(n).status for n in (1, 2, 3)] == [
        SlideStatus.COMPLETED,
        SlideStatus.PENDING,
        SlideStatus.PENDING,
    ]
    assert read.slide(2) == SlideState(2)
    assert read.reference_image_key == "k1"
    assert store.current_lock(job.story_id) == LockHolder(job.story_id, 2, job.job_id, released=False)
    with pytest.raises(ClaimConflict):
        store.restart_slides(read, [2], run=2, lock_seq=2, at=T1)


def test_given_a_webhook_attempt_when_recorded_then_it_reads_back(store, job) -> None:
    store.create_job(job, slide_jobs(job))
    outcome = WebhookOutcome("image_job.completed", WebhookStatus.RETRYING, 2, 503, "the receiver answered 503", T1)

    store.record_webhook(job.job_id, outcome)

    assert store.get_job(job.job_id).webhook == outcome


def test_given_many_claims_when_the_latest_is_asked_then_the_highest_seq_comes_back(store) -> None:
    story = f"seqs-{uuid.uuid4().hex[:8]}"
    for seq in (1, 2, 3, 10):
        claimant = new_job(story, seq=seq)
        store.create_job(claimant, slide_jobs(claimant))

    assert store.current_lock(story).seq == 10
    assert store.current_lock("never-claimed") is None


def test_given_stories_when_read_then_the_document_or_none(stack) -> None:
    story_id = f"story-{uuid.uuid4().hex[:8]}"
    stack.db.collection("stories").document(story_id).create({"ownerId": "u", "slides": [{"text": "x"}]})
    stories = FirestoreStories(lambda: stack.db)

    assert stories.get_story(story_id) == {"ownerId": "u", "slides": [{"text": "x"}]}
    assert stories.get_story("nobody-wrote-this") is None


def test_given_enders_racing_when_they_all_claim_the_end_of_a_run_then_exactly_one_ending_is_written(
    store, job, stack
) -> None:
    # Given a running job, and finalize, a cancel and a mark-failed claiming its end at once
    store.create_job(job, slide_jobs(job))
    claims = [
        ending(JobStatus.COMPLETED),
        ending(JobStatus.CANCELLED, EndedBy.CANCEL),
        ending(JobStatus.FAILED, EndedBy.WORKFLOW_FAILURE),
    ]
    held: list[RunEnding] = []
    barrier = threading.Barrier(len(claims))

    def claim(mine: RunEnding) -> None:
        barrier.wait()
        held.append(FirestoreJobStore(lambda: stack.db).end_run(job, mine, images={}))

    threads = [threading.Thread(target=claim, args=(c,)) for c in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every claimer got the same ending back, and it is the one the job reads
    assert len(set(held)) == 1
    assert store.get_job(job.job_id).status is held[0].status
    assert store.get_ending(job.job_id, 0) == held[0]


def test_given_images_stored_but_unrecorded_when_the_run_ends_then_the_same_commit_records_them(
    store, job, stack
) -> None:
    store.create_job(job, slide_jobs(job))
    store.mark_slide_generating(job.job_id, 2, T0)

    with FirestoreMeter(stack.firestore) as meter:
        store.end_run(job, ending(JobStatus.COMPLETED_WITH_ERRORS), images={2: "images/x/slide-2.png"})

    read = store.get_job(job.job_id)
    assert len(meter.commits) == 1
    assert (read.slide(2).status, read.slide(2).image_key) == (SlideStatus.COMPLETED, "images/x/slide-2.png")
    assert (read.reference_slide, read.reference_image_key) == (2, "images/x/slide-2.png")
    slide_doc = stack.db.collection("imageJobs").document(slide_job_id(job.job_id, 2)).get().to_dict()
    assert (slide_doc["status"], slide_doc["progress"]) == ("completed", 100)


def test_given_a_slide_job_id_when_read_as_a_master_job_then_there_is_none(store, job) -> None:
    # A slide job's id names a document too (issue 8: the API answered 500 for it)
    store.create_job(job, slide_jobs(job))

    assert store.get_job(slide_job_id(job.job_id, 1)) is None
    assert store.get_slide_work(slide_job_id(job.job_id, 1), 1) == (None, None)


def test_given_a_job_whose_documents_are_gone_when_a_slide_is_recorded_then_job_not_found(store, job) -> None:
    # An update needs its document: a job deleted (or an emulator restarted) under a running task
    with pytest.raises(JobNotFound):
        store.mark_slide_generating(job.job_id, 1, T0)
