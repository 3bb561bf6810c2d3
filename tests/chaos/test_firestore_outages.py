"""Firestore taken away while a job is in each of its phases: generating a slide, recording a
slide's failure, finalizing, cancelling; and from every function at once. Each function reaches
the store through its own proxy, so an outage can hit exactly one phase. Bounded form: 5 s
outages; CHAOS_LONG=1: 75 s, in both modes."""

from __future__ import annotations

import time

import pytest

from tests.chaos.conftest import LONG
from tests.chaos.invariants import Job, check, held, marker, new_story, slide_reads, wait_until_ended, webhook_statuses

OUTAGE_SECONDS = 75.0 if LONG else 5.0
MODES = ("refuse", "stall") if LONG else ("refuse",)
# Every retry of a job-store fault waits its deadline first: a 75 s outage needs a few minutes.
JOB_TIMEOUT = 420.0 if LONG else 120.0
# A pause between images (at most the deployment's 60 s) that keeps a 3-slide job running past the outage.
RUNNING_DELAY_SECONDS = 60 if LONG else 10


def outage(stack, function: str | None, mode: str) -> object:
    return stack.firestore_outage(mode, None if function is None else [function])


def finish(stack, api, receiver, job: Job, title: str) -> None:
    stuck = wait_until_ended(api, [job], timeout=JOB_TIMEOUT)
    findings = check(stack, [] if stuck else [job], stuck)
    findings.report(title)
    findings.assert_invariants()
    receiver.wait_for(1, timeout=30)
    assert webhook_statuses(receiver, job.job_id) == [job.status]


@pytest.mark.parametrize("mode", MODES)
def test_given_an_outage_while_a_slide_image_is_being_recorded_then_it_is_recorded_after_not_paid_twice(
    stack, api, receiver, clean_images, mode
) -> None:
    # Given a job whose slide 2 image is being drawn
    story = new_story(stack, 3)
    clean_images.set_faults([{"kind": "slow", "match": marker(story, 2), "times": 1, "seconds": 60}])
    job = Job(story, api.start_job(story, webhookUrl=receiver.url), 3)
    held(clean_images)

    # When the image comes back while the image function cannot reach Firestore
    with outage(stack, "GenerateSlideImage", mode):
        clean_images.release_held_requests()
        time.sleep(OUTAGE_SECONDS)  # the outage itself: its length is what is tested

    # Then the job completes, the stored image recorded, each slide paid for once
    finish(stack, api, receiver, job, f"{OUTAGE_SECONDS:g} s {mode} outage of the image function's store")
    assert job.status == "completed"
    assert all(s.generations == 1 for s in check(stack, [job]).slides)


@pytest.mark.parametrize("mode", MODES)
def test_given_an_outage_while_a_slide_failure_is_recorded_then_it_is_recorded_after(
    stack, api, receiver, clean_images, mode
) -> None:
    # Given slide 2 refused by the provider, while recording a failure cannot reach Firestore
    story = new_story(stack, 3)
    clean_images.set_faults([{"kind": "reject", "match": marker(story, 2), "times": 1}])
    with outage(stack, "RecordSlideFailure", mode):
        job = Job(story, api.start_job(story, webhookUrl=receiver.url), 3)
        time.sleep(OUTAGE_SECONDS)

    # Then the failure is recorded once the store is back and the others go on
    finish(stack, api, receiver, job, f"{OUTAGE_SECONDS:g} s {mode} outage while recording a slide failure")
    statuses = {s["slideNumber"]: (s["status"], (s.get("error") or {}).get("code")) for s in job.data["slideJobs"]}
    assert statuses == {1: ("completed", None), 2: ("failed", "IMAGE_REJECTED"), 3: ("completed", None)}


@pytest.mark.parametrize("mode", MODES)
def test_given_an_outage_while_the_job_is_finalized_then_it_ends_once_the_store_is_back(
    stack, api, receiver, clean_images, mode
) -> None:
    # Given finalizing cannot reach Firestore (issue 8: such a job read `generating` forever)
    story = new_story(stack, 2)
    with outage(stack, "FinalizeJob", mode):
        job = Job(story, api.start_job(story, webhookUrl=receiver.url), 2)
        time.sleep(OUTAGE_SECONDS)

    # Then the job ends, once, with one webhook
    finish(stack, api, receiver, job, f"{OUTAGE_SECONDS:g} s {mode} outage while finalizing")
    assert job.status == "completed"


@pytest.mark.parametrize("mode", MODES)
def test_given_an_outage_when_the_owner_cancels_then_503_then_the_cancel_holds(
    stack, api, receiver, clean_images, mode
) -> None:
    # Given a job that runs longer than the outage (pausing between its images), and job
    # control cut off from Firestore
    story = new_story(stack, 3)
    job = Job(story, api.start_job(story, webhookUrl=receiver.url, delaySeconds=RUNNING_DELAY_SECONDS), 3)
    slide_reads(stack, job.job_id, 1, "completed")
    with outage(stack, "JobControl", mode):
        # When the owner cancels, they are told to try again, well before API Gateway's 29 s
        began = time.monotonic()
        refused = api.cancel(job.job_id)
        took = time.monotonic() - began
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "STORE_UNAVAILABLE")
        assert took < 15
        time.sleep(max(0.0, OUTAGE_SECONDS - took))
    # ... and nothing changed meanwhile: the job still runs
    assert api.status(job.job_id).json()["data"]["masterJob"]["status"] == "generating"

    # When they cancel again, it holds: cancelled, one webhook saying so
    again = api.cancel(job.job_id)
    assert (again.status_code, again.json()["data"]["masterJob"]["status"]) == (200, "cancelled")
    finish(stack, api, receiver, job, f"{OUTAGE_SECONDS:g} s {mode} outage while cancelling")
    assert job.status == "cancelled"


def test_given_the_whole_store_down_when_the_app_polls_then_503_fast_and_every_job_ends_after(
    stack, api, receiver, clean_images
) -> None:
    # Given three jobs running
    stories = [new_story(stack, 3) for _ in range(3)]
    clean_images.set_faults([{"kind": "slow", "seconds": 0.5}])
    jobs = [Job(story, api.start_job(story), 3) for story in stories]

    # When Firestore is gone for every function, the status read answers 503 well before 29 s
    with outage(stack, None, "stall"):
        began = time.monotonic()
        answer = api.status(jobs[0].job_id)
        took = time.monotonic() - began
        assert (answer.status_code, answer.json()["error"]["code"]) == (503, "STORE_UNAVAILABLE")
        assert took < 15, took
        time.sleep(max(0.0, OUTAGE_SECONDS - took))

    # Then every job ends, nothing stuck or paid twice
    stuck = wait_until_ended(api, jobs, timeout=JOB_TIMEOUT)
    findings = check(stack, [j for j in jobs if j not in stuck], stuck)
    findings.report(f"{OUTAGE_SECONDS:g} s stall of the whole store (status read answered 503 in {took:.1f} s)")
    findings.assert_invariants()
    assert {job.status for job in jobs} == {"completed"}


def test_given_the_store_down_for_the_start_function_when_a_story_is_started_then_503_and_nothing_started(
    stack, api, clean_images
) -> None:
    # Given the start function cut off from Firestore (stalled: no answer at all)
    story = new_story(stack, 2)
    with outage(stack, "StartGeneration", "stall"):
        # When the app starts a story, it is told to try again within seconds
        began = time.monotonic()
        answer = api.start(story)
        took = time.monotonic() - began
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "STORE_UNAVAILABLE")
    assert took < 15, took
    # ... and nothing was started: the story's next start is a new, first job that runs
    job = Job(story, api.start_job(story), 2)
    assert wait_until_ended(api, [job], timeout=60) == []
    print(f"start during a stall answered 503 in {took:.1f} s; the next start ran to {job.status}")
    assert job.status == "completed"
