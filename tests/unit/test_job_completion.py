from __future__ import annotations

from storyimages.domain.job_completion import finalize_job, mark_job_failed
from storyimages.domain.jobs import JobError, JobStatus, SlideStatus
from tests.unit.test_slide_generation import World


def test_given_every_slide_completed_when_finalized_then_completed(config) -> None:
    world = World(config, slides=3)
    for n in (1, 2, 3):
        world.generate(n)

    status, summary = finalize_job(world.job_id, jobs=world.jobs, clock=world.clock)

    assert status is JobStatus.COMPLETED
    assert (summary.completed, summary.errors, summary.overall_progress) == (3, 0, 100)
    assert world.job.status is JobStatus.COMPLETED
    assert world.job.finished_at is not None


def test_given_one_failed_slide_when_finalized_then_completed_with_errors(config) -> None:
    world = World(config, slides=3)
    world.generate(1)
    world.fail(2)
    world.generate(3)

    status, summary = finalize_job(world.job_id, jobs=world.jobs, clock=world.clock)

    assert status is JobStatus.COMPLETED_WITH_ERRORS
    assert (summary.completed, summary.errors) == (2, 1)
    assert world.job.error is None


def test_given_every_slide_failed_when_finalized_then_failed_with_a_reason(config) -> None:
    world = World(config, slides=2)
    world.fail(1)
    world.fail(2)

    status, _ = finalize_job(world.job_id, jobs=world.jobs, clock=world.clock)

    assert status is JobStatus.FAILED
    assert world.job.error is not None
    assert world.job.error.code == "NO_IMAGES_GENERATED"


def test_given_a_finished_job_when_finalized_again_then_nothing_changes(config) -> None:
    world = World(config, slides=1)
    world.generate(1)
    finalize_job(world.job_id, jobs=world.jobs, clock=world.clock)
    commits = list(world.jobs.commits)

    status, _ = finalize_job(world.job_id, jobs=world.jobs, clock=world.clock)

    assert status is JobStatus.COMPLETED
    assert world.jobs.commits == commits


def test_given_a_broken_workflow_when_marked_failed_then_made_images_stay_and_the_rest_are_skipped(
    config,
) -> None:
    world = World(config, slides=3)
    world.generate(1)

    summary = mark_job_failed(world.job_id, JobError("WORKFLOW_ERROR", "boom"), jobs=world.jobs, clock=world.clock)

    job = world.job
    assert job.status is JobStatus.FAILED
    assert job.error == JobError("WORKFLOW_ERROR", "boom")
    assert [job.slide(n).status for n in (1, 2, 3)] == [
        SlideStatus.COMPLETED,
        SlideStatus.SKIPPED,
        SlideStatus.SKIPPED,
    ]
    assert job.slide(1).image_key == world.key(1)
    assert (summary.completed, summary.skipped, summary.in_progress) == (1, 2, 0)


def test_given_a_completed_job_when_marked_failed_late_then_it_stays_completed(config) -> None:
    world = World(config, slides=1)
    world.generate(1)
    finalize_job(world.job_id, jobs=world.jobs, clock=world.clock)

    mark_job_failed(world.job_id, JobError("X", "late"), jobs=world.jobs, clock=world.clock)

    assert world.job.status is JobStatus.COMPLETED
