from __future__ import annotations

from collections.abc import Mapping

import pytest

from storyimages.domain.errors import (
    ImageRejected,
    JobAlreadyFinished,
    JobNotFound,
    JobStillRunning,
    NothingToRetry,
    StoryBusy,
    WorkflowStartFailed,
)
from storyimages.domain.identity import Caller
from storyimages.domain.jobs import EndedBy, JobStatus, MasterJob, RunEnding, SlideStatus
from storyimages.domain.start_generation import StartCommand, start_generation
from tests.job_world import OWNER, World


def test_given_a_running_job_when_cancelled_then_it_stops_and_made_images_stay(config) -> None:
    world = World(config, slides=4)
    world.generate(1)
    world.generate(2)

    job = world.cancel()

    assert job.status is JobStatus.CANCELLED
    assert world.workflow.stopped == [world.job_id]
    visible = job.visible_slides()
    assert [visible[n].status for n in (1, 2, 3, 4)] == [SlideStatus.COMPLETED] * 2 + [SlideStatus.SKIPPED] * 2
    assert visible[3].error is not None and visible[3].error.code == "CANCELLED"
    assert world.jobs.current_lock("fox").released


def test_given_a_cancelled_job_when_cancelled_again_then_nothing_changes(config) -> None:
    world = World(config)
    world.cancel()
    commits = list(world.jobs.commits)

    assert world.cancel().status is JobStatus.CANCELLED
    assert world.jobs.commits == commits


def test_given_a_finished_job_when_cancelled_then_it_is_refused(config) -> None:
    world = World(config, slides=1)
    world.generate(1)
    world.finalize()

    with pytest.raises(JobAlreadyFinished):
        world.cancel()


def test_given_a_job_with_a_webhook_when_cancelled_then_the_cancellation_is_notified(config) -> None:
    world = World(config, webhook_url="https://hooks.example.com/x")

    world.cancel()

    assert world.notifier.notified == [(world.job_id, 0, JobStatus.CANCELLED)]


def test_given_someone_elses_job_when_cancelled_or_retried_then_it_reads_as_missing(config) -> None:
    world = World(config)

    with pytest.raises(JobNotFound):
        world.cancel(Caller("intruder"))
    with pytest.raises(JobNotFound):
        world.retry(Caller("intruder"))
    assert world.workflow.stopped == []


def test_given_a_job_that_cancelled_mid_image_when_a_late_task_writes_then_the_app_sees_no_work_in_progress(
    config,
) -> None:
    world = World(config, slides=2)
    world.jobs.mark_slide_generating(world.job_id, 1, world.clock.now())
    world.cancel()
    # The image task that was running writes after the cancel
    world.jobs.mark_slide_generating(world.job_id, 2, world.clock.now())

    summary = world.job.summary()

    assert world.job.visible_slides()[2].status is SlideStatus.SKIPPED
    assert (summary.in_progress, summary.skipped) == (0, 2)


def test_given_failed_slides_when_retried_then_a_new_run_covers_only_them_and_reuses_the_reference(config) -> None:
    world = World(config, slides=4)
    world.generate(1)
    world.images.failures.append(ImageRejected("no"))
    with pytest.raises(ImageRejected):
        world.generate(2)
    world.fail(2)
    world.generate(3)
    world.fail(4)
    world.finalize()

    job = world.retry()

    assert (job.status, job.run, job.lock_seq) == (JobStatus.PENDING, 1, 2)
    assert [job.slide(n).status for n in (1, 2, 3, 4)] == [
        SlideStatus.COMPLETED,
        SlideStatus.PENDING,
        SlideStatus.COMPLETED,
        SlideStatus.PENDING,
    ]
    assert job.slide(2).error is None
    assert world.workflow.started[f"{world.job_id}-retry-1"] == {
        "masterJobId": world.job_id,
        "run": 1,
        "firstSlide": 2,
        "remainingSlides": [4],
        "delaySeconds": 2,
        "maxConcurrency": 1,
    }
    # counts stay consistent: two images made, two to go
    assert (job.summary().completed, job.summary().in_progress, job.summary().errors) == (2, 2, 0)

    world.generate(2)
    world.generate(4)
    assert world.images.requests[-1].reference == world.storage.objects[world.key(1)]
    status, summary = world.finalize()
    assert (status, summary.completed) == (JobStatus.COMPLETED, 4)


def test_given_a_running_job_when_retried_then_it_is_refused(config) -> None:
    with pytest.raises(JobStillRunning):
        World(config).retry()


def test_given_a_job_with_every_image_when_retried_then_there_is_nothing_to_retry(config) -> None:
    world = World(config, slides=1)
    world.generate(1)
    world.finalize()

    with pytest.raises(NothingToRetry):
        world.retry()


def test_given_a_newer_job_running_for_the_story_when_an_old_job_is_retried_then_the_story_is_busy(config) -> None:
    world = World(config, slides=1)
    world.fail(1)
    world.finalize()
    world.clock.advance(seconds=1)
    newer = start_generation(
        StartCommand("fox"),
        OWNER,
        stories=world.stories,
        jobs=world.jobs,
        workflow=world.workflow,
        storage=world.storage,
        notifier=world.notifier,
        resolver=world.resolver,
        clock=world.clock,
        config=world.config,
    )

    with pytest.raises(StoryBusy) as caught:
        world.retry()

    assert caught.value.details == {"masterJobId": newer.master_job_id}


def test_given_a_cancelled_job_whose_webhook_could_not_be_asked_for_when_cancelled_again_then_it_is(config) -> None:
    world = World(config, webhook_url="https://hooks.example.com/x")
    world.notifier.unavailable = True
    with pytest.raises(WorkflowStartFailed):
        world.cancel()
    assert world.job.status is JobStatus.CANCELLED

    world.notifier.unavailable = False
    world.cancel()

    assert world.notifier.notified == [(world.job_id, 0, JobStatus.CANCELLED)]


def test_given_the_run_finishing_just_before_the_cancel_when_cancelled_then_it_stays_as_it_ended(config) -> None:
    # Given a one-slide job with a webhook whose finalize commits its ending a moment before
    # the cancel's claim does
    world = World(config, slides=1, webhook_url="https://hooks.example.com/x")
    world.generate(1)
    claim = world.jobs.end_run

    def finalize_first(job: MasterJob, ending: RunEnding, *, images: Mapping[int, str]) -> RunEnding:
        if ending.by is EndedBy.CANCEL:
            world.finalize()
        return claim(job, ending, images=images)

    world.jobs.end_run = finalize_first  # type: ignore[method-assign]

    # When the owner cancels, then the cancel is refused and the job stays completed
    with pytest.raises(JobAlreadyFinished):
        world.cancel()
    assert world.job.status is JobStatus.COMPLETED
    assert world.jobs.endings[(world.job_id, 0)].by is EndedBy.FINALIZE
    # and the only webhook says completed
    assert world.notifier.notified == [(world.job_id, 0, JobStatus.COMPLETED)]
    # and the execution was left to end by itself
    assert world.workflow.stopped == []


def test_given_a_cancel_that_claimed_first_when_the_run_finalizes_then_the_job_stays_cancelled(config) -> None:
    # Given a job whose last slide finished just as its owner cancelled it
    world = World(config, slides=1, webhook_url="https://hooks.example.com/x")
    world.generate(1)
    cancelled = world.cancel()

    # When its finalize task runs anyway
    status, _ = world.finalize(run=0)

    # Then the cancel holds everywhere: the job, the finalize's answer, the webhook (asked for
    # again by the finalize: the same delivery, named for the run)
    assert cancelled.status is JobStatus.CANCELLED
    assert status is JobStatus.CANCELLED
    assert world.job.status is JobStatus.CANCELLED
    assert set(world.notifier.notified) == {(world.job_id, 0, JobStatus.CANCELLED)}
    assert [name for name, _ in world.jobs.commits].count("end") == 1


def test_given_a_slide_a_late_task_left_generating_when_the_cancelled_job_is_retried_then_it_is_retried(
    config,
) -> None:
    world = World(config, slides=2)
    world.generate(1)
    world.cancel()
    world.jobs.mark_slide_generating(world.job_id, 2, world.clock.now())  # written after the cancel

    job = world.retry()

    assert job.slide(2).status is SlideStatus.PENDING
    assert world.workflow.started[f"{world.job_id}-retry-1"]["firstSlide"] == 2
