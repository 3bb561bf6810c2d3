from __future__ import annotations

from storyimages.domain.jobs import JobError, JobStatus, SlideStatus
from tests.job_world import World


def test_given_every_slide_completed_when_finalized_then_completed(config) -> None:
    world = World(config, slides=3)
    for n in (1, 2, 3):
        world.generate(n)

    status, summary = world.finalize()

    assert status is JobStatus.COMPLETED
    assert (summary.completed, summary.errors, summary.overall_progress) == (3, 0, 100)
    assert world.job.status is JobStatus.COMPLETED
    assert world.job.finished_at is not None


def test_given_one_failed_slide_when_finalized_then_completed_with_errors(config) -> None:
    world = World(config, slides=3)
    world.generate(1)
    world.fail(2)
    world.generate(3)

    status, summary = world.finalize()

    assert status is JobStatus.COMPLETED_WITH_ERRORS
    assert (summary.completed, summary.errors) == (2, 1)
    assert world.job.error is None


def test_given_every_slide_failed_when_finalized_then_failed_with_a_reason(config) -> None:
    world = World(config, slides=2)
    world.fail(1)
    world.fail(2)

    status, _ = world.finalize()

    assert status is JobStatus.FAILED
    assert world.job.error is not None
    assert world.job.error.code == "NO_IMAGES_GENERATED"


def test_given_a_finished_job_when_finalized_again_then_nothing_changes(config) -> None:
    world = World(config, slides=1)
    world.generate(1)
    world.finalize()
    commits = list(world.jobs.commits)

    status, _ = world.finalize()

    assert status is JobStatus.COMPLETED
    assert world.jobs.commits == commits


def test_given_a_broken_workflow_when_marked_failed_then_made_images_stay_and_the_rest_are_skipped(
    config,
) -> None:
    world = World(config, slides=3)
    world.generate(1)

    summary = world.mark_failed(JobError("WORKFLOW_ERROR", "boom"))

    job = world.job
    assert job.status is JobStatus.FAILED
    assert job.error == JobError("WORKFLOW_ERROR", "boom")
    assert [job.visible_slides()[n].status for n in (1, 2, 3)] == [
        SlideStatus.COMPLETED,
        SlideStatus.SKIPPED,
        SlideStatus.SKIPPED,
    ]
    assert job.slide(1).image_key == world.key(1)
    assert (summary.completed, summary.skipped, summary.in_progress) == (1, 2, 0)


def test_given_a_completed_job_when_marked_failed_late_then_it_stays_completed(config) -> None:
    world = World(config, slides=1)
    world.generate(1)
    world.finalize()

    world.mark_failed(JobError("X", "late"))

    assert world.job.status is JobStatus.COMPLETED


def test_given_a_job_with_a_webhook_when_it_ends_then_its_delivery_starts_even_if_finalize_repeats(config) -> None:
    world = World(config, slides=1, webhook_url="https://hooks.example.com/x")
    world.generate(1)

    world.finalize()
    world.finalize()  # a retried task: the same delivery is asked for again, and is one execution

    assert world.notifier.notified == [(world.job_id, 0, JobStatus.COMPLETED)] * 2


def test_given_a_broken_workflow_when_the_job_has_a_webhook_then_the_failure_is_notified(config) -> None:
    world = World(config, slides=2, webhook_url="https://hooks.example.com/x")

    world.mark_failed(JobError("WORKFLOW_ERROR", "boom"))

    assert world.notifier.notified == [(world.job_id, 0, JobStatus.FAILED)]


def test_given_no_webhook_when_the_job_ends_then_nothing_is_notified(config) -> None:
    world = World(config, slides=1)
    world.generate(1)

    world.finalize()

    assert world.notifier.notified == []
