from __future__ import annotations

from dataclasses import replace

import pytest

from storyimages.domain.errors import ImageRateLimited, ImageRejected, JobNotFound, SlideNotFound
from storyimages.domain.jobs import JobError, JobStatus, SlideStatus
from storyimages.domain.ports import ImageRequest
from storyimages.domain.slide_generation import generate_slide_image
from storyimages.domain.story import REFERENCE_INSTRUCTION
from tests.job_world import World


def test_given_the_first_slide_when_generated_then_it_is_stored_recorded_and_becomes_the_reference(
    config,
) -> None:
    world = World(config)

    outcome = world.generate(1)

    assert outcome.became_reference
    assert not outcome.used_reference
    assert world.storage.objects[world.key(1)].startswith(b"PNG:")
    assert world.job.slide(1).status is SlideStatus.COMPLETED
    assert (world.job.reference_slide, world.job.reference_image_key) == (1, world.key(1))
    assert world.job.visible_status is JobStatus.GENERATING
    assert world.images.requests[0].reference is None


def test_given_a_reference_when_a_later_slide_is_generated_then_it_is_drawn_from_the_reference_bytes(
    config,
) -> None:
    world = World(config)
    world.generate(1)

    outcome = world.generate(2)

    request: ImageRequest = world.images.requests[1]
    assert outcome.used_reference
    assert request.reference == world.storage.objects[world.key(1)]
    assert request.prompt.startswith(REFERENCE_INSTRUCTION)
    assert "Scene: Juniper in scene 2" in request.prompt
    assert world.job.reference_slide == 1


def test_given_consistency_off_when_slides_are_generated_then_no_reference_is_used_or_recorded(
    config,
) -> None:
    world = World(config, consistency=False)

    world.generate(1)
    world.generate(2)

    assert [r.reference for r in world.images.requests] == [None, None]
    assert world.job.reference_image_key is None


def test_given_the_happy_path_when_a_slide_is_generated_then_it_costs_two_commits(config) -> None:
    world = World(config)

    world.generate(1)

    assert world.jobs.commits == [("generating", world.job_id), ("completed", world.job_id)]


def test_given_a_completed_slide_when_generated_again_then_nothing_is_paid_for_or_written(config) -> None:
    world = World(config)
    world.generate(1)
    commits, requests = list(world.jobs.commits), list(world.images.requests)

    outcome = world.generate(1)

    assert outcome.reused
    assert outcome.status is SlideStatus.COMPLETED
    assert (world.jobs.commits, world.images.requests) == (commits, requests)


def test_given_an_attempt_that_stored_the_image_but_crashed_when_retried_then_the_image_is_recorded_not_regenerated(
    config,
) -> None:
    world = World(config)
    world.jobs.mark_slide_generating(world.job_id, 1, world.clock.now())
    world.storage.put(world.key(1), b"PNG:earlier-attempt", "image/png")

    outcome = world.generate(1)

    assert outcome.reused
    assert world.images.requests == []
    assert world.job.slide(1).status is SlideStatus.COMPLETED
    assert world.storage.objects[world.key(1)] == b"PNG:earlier-attempt"


def test_given_a_rate_limited_attempt_when_retried_then_the_slide_stays_generating_and_completes(
    config,
) -> None:
    world = World(config)
    world.images.failures.append(ImageRateLimited("429"))

    with pytest.raises(ImageRateLimited):
        world.generate(1)
    assert world.job.slide(1).status is SlideStatus.GENERATING

    world.generate(1)

    assert world.job.slide(1).status is SlideStatus.COMPLETED
    assert [op for op, _ in world.jobs.commits] == ["generating", "completed"]


def test_given_the_reference_slide_failed_when_the_next_slide_succeeds_then_it_becomes_the_reference(
    config,
) -> None:
    world = World(config, slides=4)
    world.images.failures.append(ImageRejected("content policy"))
    with pytest.raises(ImageRejected):
        world.generate(1)
    world.fail(1)

    second = world.generate(2)
    third = world.generate(3)

    assert second.became_reference
    assert not second.used_reference
    assert third.used_reference
    assert world.images.requests[-1].reference == world.storage.objects[world.key(2)]
    assert world.job.reference_slide == 2


def test_given_a_failure_when_recorded_then_the_slide_is_failed_with_its_error(config) -> None:
    world = World(config)

    world.fail(2, "IMAGE_REJECTED")

    assert world.job.slide(2).status is SlideStatus.FAILED
    assert world.job.slide(2).error == JobError("IMAGE_REJECTED", "no")


def test_given_a_completed_slide_when_a_late_failure_arrives_then_progress_does_not_go_backwards(
    config,
) -> None:
    world = World(config)
    world.generate(1)

    outcome = world.fail(1)

    assert outcome.reused
    assert world.job.slide(1).status is SlideStatus.COMPLETED


def test_given_a_finished_job_when_a_slide_task_runs_then_it_changes_nothing(config) -> None:
    world = World(config)
    world.jobs.jobs[world.job_id] = replace(world.job, status=JobStatus.FAILED)

    outcome = world.generate(2)

    assert outcome.reused
    assert world.images.requests == []
    assert world.jobs.commits == []


def test_given_unknown_ids_when_a_slide_task_runs_then_job_or_slide_not_found(config) -> None:
    world = World(config)

    with pytest.raises(JobNotFound):
        generate_slide_image("nope", 1, jobs=world.jobs, images=world.images, storage=world.storage, clock=world.clock)
    with pytest.raises(SlideNotFound):
        world.generate(9)
    with pytest.raises(SlideNotFound):
        world.fail(9)


def test_given_a_stored_image_whose_slide_was_recorded_failed_when_retried_then_it_is_not_paid_for_again(
    config,
) -> None:
    # Given an attempt that stored slide 1's image, then could not record it, so the workflow
    # recorded the slide failed (issue 8: a long job-store outage during the record step)
    world = World(config)
    world.storage.put(world.key(1), b"PNG:stored-before-the-outage", "image/png")
    world.fail(1, "UNEXPECTED_ERROR")
    world.jobs.mark_slide_generating(world.job_id, 1, world.clock.now())  # back to work, as a retry run does

    # When the slide is generated again
    outcome = world.generate(1)

    # Then the stored image is recorded, and nothing is asked of the image service
    assert outcome.reused
    assert world.images.requests == []
    assert world.job.slide(1).status is SlideStatus.COMPLETED


def test_given_a_stored_image_when_its_slide_failure_is_recorded_then_it_is_recorded_completed(config) -> None:
    # Given slide 1's image in storage although its task failed afterwards
    world = World(config)
    world.storage.put(world.key(1), b"PNG:stored", "image/png")

    # When the workflow records the slide's failure
    outcome = world.fail(1, "STORE_UNAVAILABLE")

    # Then the slide reads completed with its image, and is the story's reference
    assert outcome.status is SlideStatus.COMPLETED
    assert world.job.slide(1).status is SlideStatus.COMPLETED
    assert world.job.slide(1).image_key == world.key(1)
    assert world.job.reference_image_key == world.key(1)
