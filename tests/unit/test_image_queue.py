"""The image queue's domain: a slide joins the queue (reads `queued`), a worker takes it,
generates its image and answers the task waiting on it, success or the error's name."""

from __future__ import annotations

import json

from storyimages.domain.errors import ImageRateLimited, ImageRejected, StoreUnavailable
from storyimages.domain.jobs import JobStatus, SlideStatus
from tests.job_world import World


def test_given_a_slide_when_it_joins_the_queue_then_it_reads_queued_and_the_job_says_since_when(config) -> None:
    world = World(config)

    world.queue(1)

    job = world.job
    assert job.slide(1).status is SlideStatus.QUEUED
    assert job.queued_since == job.slide(1).queued_at is not None
    summary = job.summary()
    assert (summary.queued, summary.in_progress) == (1, 3)
    # Waiting for capacity is not started: the job still reads pending.
    assert job.visible_status is JobStatus.PENDING


def test_given_two_queued_slides_when_read_then_queued_since_is_the_longest_wait(config) -> None:
    world = World(config)
    world.queue(2)
    world.queue(3)

    assert world.job.queued_since == world.job.slide(2).queued_at
    assert world.job.slide(3).queued_at > world.job.slide(2).queued_at


def test_given_a_queued_slide_when_a_worker_takes_it_then_it_is_generated_and_its_task_answered(config) -> None:
    world = World(config)
    world.queue(1)

    done = world.work(1, token="t1")

    assert done.answered and done.error is None
    assert world.tasks.answers["t1"] == (
        "success",
        {"slideNumber": 1, "status": "completed", "imageKey": world.key(1)},
    )
    job = world.job
    assert job.slide(1).status is SlideStatus.COMPLETED
    assert (job.summary().queued, job.queued_since) == (0, None)
    assert job.visible_status is JobStatus.GENERATING


def test_given_a_rate_limit_when_worked_then_the_task_fails_by_the_error_name_its_retry_matches(config) -> None:
    world = World(config)
    world.images.failures.append(ImageRateLimited("slow down", retry_after_seconds=7))

    done = world.work(1, token="t1")

    kind, (error, cause) = world.tasks.answers["t1"]
    assert (kind, error) == ("failure", "ImageRateLimited")
    # The cause reads as a Lambda error's does, so recording the failure describes it the same way.
    assert json.loads(cause) == {"errorType": "ImageRateLimited", "errorMessage": "slow down"}
    assert not done.unexpected
    assert world.storage.puts == []
    # ... answered only after the Retry-After, so the retry asks no sooner than the service said
    assert world.holds == [7]


def test_given_a_rate_limit_asking_for_minutes_when_worked_then_the_hold_is_bounded(config) -> None:
    world = World(config)
    world.images.failures.append(ImageRateLimited("slow down", retry_after_seconds=600))

    world.work(1, token="t1")

    assert world.holds == [60]
    assert world.tasks.answers["t1"][1][0] == "ImageRateLimited"


def test_given_an_unexpected_defect_when_worked_then_the_task_still_fails_and_it_is_flagged(config) -> None:
    world = World(config)
    world.images.failures.append(KeyError("b64_json"))  # type: ignore[arg-type]

    done = world.work(1, token="t1")

    assert done.unexpected and done.error == "KeyError"
    assert world.tasks.answers["t1"][0] == "failure"


def test_given_a_job_cancelled_while_its_slide_waited_when_worked_then_nothing_is_paid_for(config) -> None:
    world = World(config)
    world.queue(1)
    world.cancel()
    world.tasks.gone.add("t1")  # cancelling stopped the execution: its tasks wait no more

    done = world.work(1, token="t1")

    assert not done.answered
    assert world.images.requests == []
    assert world.storage.puts == []
    assert world.job.status is JobStatus.CANCELLED


def test_given_work_queued_by_an_earlier_run_when_worked_then_it_is_dropped_unpaid(config) -> None:
    world = World(config)
    world.fail(1)
    world.finalize()
    world.retry()  # run 1 owns the job now
    assert world.job.run == 1

    world.work(1, token="old", run=0)

    assert world.images.requests == []
    assert world.job.slide(1).status is SlideStatus.PENDING


def test_given_an_answer_the_workflow_could_not_take_when_redelivered_then_the_stored_image_is_not_paid_twice(
    config,
) -> None:
    world = World(config)
    world.tasks.unavailable = True
    try:
        world.work(1, token="t1")
    except ConnectionError:
        pass  # the message comes back after its visibility timeout
    else:
        raise AssertionError("an answer that could not be delivered must raise, so the message comes back")
    world.tasks.unavailable = False

    done = world.work(1, token="t1")

    assert done.answered and done.outcome is not None and done.outcome.reused
    assert len(world.images.requests) == 1
    assert world.tasks.answers["t1"][0] == "success"


def test_given_a_store_outage_when_worked_then_the_task_fails_as_store_unavailable(config) -> None:
    world = World(config)

    class DownStore:
        def get_slide_work(self, job_id: str, slide_number: int) -> None:
            raise StoreUnavailable("the job store did not answer in time")

    world.jobs = DownStore()  # type: ignore[assignment]

    done = world.work(1, token="t1")

    assert done.error == "StoreUnavailable"
    assert world.tasks.answers["t1"][1][0] == "StoreUnavailable"


def test_given_a_completed_slide_when_queued_again_then_it_stays_completed(config) -> None:
    world = World(config)
    world.generate(1)

    outcome = world.queue(1)

    assert outcome.status is SlideStatus.COMPLETED
    assert world.job.slide(1).status is SlideStatus.COMPLETED


def test_given_a_rejected_image_when_worked_then_the_task_fails_as_rejected(config) -> None:
    world = World(config)
    world.images.failures.append(ImageRejected("no"))

    world.work(2, token="t2")

    assert world.tasks.answers["t2"][1][0] == "ImageRejected"
