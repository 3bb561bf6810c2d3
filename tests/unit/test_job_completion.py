from __future__ import annotations

from storyimages.domain.jobs import EndedBy, JobError, JobStatus, SlideStatus
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


def test_given_an_image_stored_but_never_recorded_when_the_job_ends_then_its_slide_reads_completed(config) -> None:
    # Given slide 2's image in storage while its slide still reads generating (the task that
    # stored it could not record it), and slide 3 failed with its image stored too
    world = World(config, slides=3)
    world.generate(1)
    world.jobs.mark_slide_generating(world.job_id, 2, world.clock.now())
    world.storage.put(world.key(2), b"PNG:2", "image/png")
    world.jobs.mark_slide_failed(world.job_id, 3, JobError("UNEXPECTED_ERROR", "x"), world.clock.now())
    world.storage.put(world.key(3), b"PNG:3", "image/png")

    # When the job is finalized
    status, summary = world.finalize()

    # Then every slide with a stored image reads completed, and so does the job
    assert status is JobStatus.COMPLETED
    assert (summary.completed, summary.errors, summary.skipped) == (3, 0, 0)
    assert {n: s.image_key for n, s in world.job.slides.items()} == {n: world.key(n) for n in (1, 2, 3)}
    assert world.jobs.slide_jobs[f"{world.job_id}-slide-2"].status is SlideStatus.COMPLETED


def test_given_a_run_ended_once_when_every_ender_tries_again_then_the_first_ending_holds(config) -> None:
    # Given a job its workflow marked failed
    world = World(config, slides=2, webhook_url="https://hooks.example.com/x")
    world.generate(1)
    world.mark_failed(JobError("WORKFLOW_ERROR", "broke"))

    # When finalize, a cancel and the execution's end all arrive afterwards
    world.finalize(run=0)
    world.end_abandoned("FAILED")

    # Then the job keeps its one ending, and every webhook request names it
    assert world.job.status is JobStatus.FAILED
    assert world.jobs.endings[(world.job_id, 0)].by is EndedBy.WORKFLOW_FAILURE
    assert set(world.notifier.notified) == {(world.job_id, 0, JobStatus.FAILED)}
    assert [op for op, _ in world.jobs.commits].count("end") == 1


def test_given_an_execution_that_failed_with_its_job_open_when_its_end_arrives_then_the_job_fails(config) -> None:
    # Given a job whose workflow broke where nothing could record it
    world = World(config, slides=3, webhook_url="https://hooks.example.com/x")
    world.generate(1)

    # When the execution's FAILED event arrives
    ending = world.end_abandoned("FAILED", error="StoreUnavailable")

    # Then the job reads failed, keeps its image, frees its story, and says why
    assert ending is not None and ending.by is EndedBy.EXECUTION_ENDED
    assert world.job.status is JobStatus.FAILED
    assert world.job.error is not None and world.job.error.code == "WORKFLOW_FAILED"
    assert "StoreUnavailable" in world.job.error.message
    assert world.job.summary().completed == 1
    assert world.jobs.current_lock("fox").released
    assert world.notifier.notified == [(world.job_id, 0, JobStatus.FAILED)]


def test_given_an_execution_stopped_from_outside_when_its_end_arrives_then_the_job_is_cancelled(config) -> None:
    world = World(config, slides=2)

    ending = world.end_abandoned("ABORTED")

    assert ending is not None and ending.status is JobStatus.CANCELLED
    assert world.job.status is JobStatus.CANCELLED


def test_given_a_job_retried_since_when_the_old_runs_end_arrives_then_nothing_changes(config) -> None:
    # Given run 0 ended with a failed slide and run 1 is running
    world = World(config, slides=1)
    world.fail(1)
    world.finalize()
    world.retry()

    # When run 0's execution end and a late run-0 finalize arrive
    assert world.end_abandoned("FAILED", run=0) is None
    status, _ = world.finalize(run=0)

    # Then they report run 0's ending, and run 1 goes on untouched
    assert status is JobStatus.FAILED
    assert world.job.run == 1
    assert world.job.status is JobStatus.PENDING


def test_given_every_slide_done_when_the_workflow_breaks_finalizing_then_the_job_ends_as_its_slides_say(
    config,
) -> None:
    # Given a job whose every slide has its image, and a finalize that could not reach the store
    world = World(config, slides=2)
    world.generate(1)
    world.generate(2)

    # When the workflow's last resort marks it failed
    world.mark_failed(JobError("STORE_UNAVAILABLE", "the job store did not answer in time"))

    # Then it reads completed, as finalize would have ended it
    assert world.job.status is JobStatus.COMPLETED
    assert world.job.error is None


def test_given_slides_left_when_an_execution_ends_failed_then_the_job_fails_else_it_ends_as_its_slides_say(
    config,
) -> None:
    unfinished = World(config, slides=2)
    unfinished.generate(1)
    done = World(config, slides=2)
    done.generate(1)
    done.fail(2)

    unfinished.end_abandoned("FAILED", error="StoreUnavailable")
    done.end_abandoned("FAILED", error="StoreUnavailable")

    assert unfinished.job.status is JobStatus.FAILED
    assert done.job.status is JobStatus.COMPLETED_WITH_ERRORS
