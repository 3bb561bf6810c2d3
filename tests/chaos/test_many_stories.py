"""More stories at once than the image capacity the deployment reserves: a slide waiting for
capacity waits, instead of failing after its throttle retries (as it did when each slide
invoked the capped image function directly, 10 of 30 slides failed here, as UNEXPECTED_ERROR)."""

from __future__ import annotations

from infra.function_catalogue import function_name
from tests.chaos.invariants import Job, check, new_story, wait_until_ended
from tests.waiting import wait_until

STORIES = 10
SLIDES = 3
IMAGE_SECONDS = 4  # each image's latency; production's are 30-200 s, its retries minutes apart


def test_given_twice_the_image_capacity_in_stories_when_they_start_together_then_no_slide_fails(
    stack, api, clean_images
) -> None:
    # Given images that take IMAGE_SECONDS each, and twice as many stories as images may be in
    # flight (the deployed imageConcurrency, which the local Lambda runtime enforces)
    capacity = stack.config.deployment.image_concurrency
    assert 2 * capacity <= STORIES
    clean_images.set_faults([{"kind": "slow", "seconds": IMAGE_SECONDS}])
    stories = [new_story(stack, SLIDES) for _ in range(STORIES)]

    # When they all start within a second or two
    jobs = [Job(story, api.start_job(story), SLIDES) for story in stories]

    # Then while capacity is short, slides read `queued` and their jobs say since when they wait
    def waiting() -> list[dict]:
        answers = [api.status(job.job_id).json()["data"] for job in jobs]
        return [a for a in answers if a["summary"]["queued"] and a["masterJob"]["queuedSince"]]

    wait_until(waiting, "a slide reads queued", seconds=60, every=0.25)
    sample = waiting()[0]
    queued = [s for s in sample["slideJobs"] if s["status"] == "queued"]
    assert len(queued) == sample["summary"]["queued"] and sample["summary"]["inProgress"] >= len(queued)

    stuck = wait_until_ended(api, jobs, timeout=STORIES * SLIDES * IMAGE_SECONDS / capacity * 3 + 60)

    # ... and every slide waited for capacity and got its image, once
    findings = check(stack, [job for job in jobs if job.data], stuck)
    findings.report(f"{STORIES} stories x {SLIDES} slides, {IMAGE_SECONDS} s images, capacity {capacity}")
    findings.assert_invariants()
    assert [(s.job.job_id, s.number, s.error_code) for s in findings.failed] == []
    assert {job.status for job in jobs} == {"completed"}
    assert sum(s.generations for s in findings.slides) == STORIES * SLIDES
    # ... and never more images were in flight than the capacity
    assert stack.lambdas.peak_in_flight(function_name("GenerateSlideImage")) <= capacity
