"""Faults of the image provider: transient errors at 30%, and an answer that comes after our timeout."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from statemachine.definition import RETRY_DEFAULTS
from tests.chaos.conftest import LONG
from tests.chaos.invariants import OPENAI_TIMEOUT_SECONDS, Job, check, marker, new_story, wait_until_ended

STORIES = 200 if LONG else 50
SLIDES = 3 if LONG else 2
AT_ONCE = 10  # stories running together; the deployed image function is capped at 5 in flight


def test_given_transient_faults_and_a_hang_when_many_stories_run_then_nothing_is_stuck_or_paid_twice(
    stack, api, clean_images
) -> None:
    # Given ~30% of image requests answered 429 or 500 (seeded, independent of each other), and
    # one story whose slide 2 the provider answers only after our OpenAI timeout (making it anyway)
    hung = new_story(stack, SLIDES)
    clean_images.set_faults(
        [
            {"kind": "rate_limit", "probability": 0.15, "retryAfter": 0.1},
            {"kind": "server_error", "probability": 0.18},
            # Last, so that a request it held is answered (a rule that fires after it would answer an error).
            {"kind": "slow", "match": marker(hung, 2), "times": 1, "seconds": OPENAI_TIMEOUT_SECONDS + 2},
        ],
        seed=8,
    )
    stories = [new_story(stack, SLIDES) for _ in range(STORIES)]

    # When every story is illustrated, AT_ONCE at a time, the hung one beside them
    def run(story_id: str) -> Job:
        job = Job(story_id, api.start_job(story_id), SLIDES)
        assert wait_until_ended(api, [job], timeout=240) == [], f"{job.job_id} is stuck"
        return job

    with ThreadPoolExecutor(AT_ONCE + 1) as pool:
        hang = pool.submit(run, hung)
        jobs = list(pool.map(run, stories))
        hung_job = hang.result()

    # Then no job is stuck, no stored image reads otherwise, no image was paid for twice,
    # and a slide failed only where its faults outlasted the retry budget
    findings = check(stack, jobs)
    findings.report(
        f"30% transient faults (budget: {RETRY_DEFAULTS['TransientRetryMaxAttempts']} retries of a 5xx,"
        f" {RETRY_DEFAULTS['RateLimitRetryMaxAttempts']} of a 429)"
    )
    findings.assert_invariants()
    assert sum(s.faults for s in findings.slides) >= 0.2 * len(findings.slides)  # the faults did happen
    assert findings.failed_within_budget == []

    # ... and the hung slide failed as timed out, not asked again on its own
    slide_2 = next(s for s in hung_job.data["slideJobs"] if s["slideNumber"] == 2)
    assert (slide_2["status"], slide_2["error"]["code"]) == ("failed", "IMAGE_TIMED_OUT")
    # ... while the provider made that image after we gave up: made and billed once
    made = wait_for_answer(clean_images, marker(hung, 2), held_at_least=OPENAI_TIMEOUT_SECONDS)
    assert made["status"] == 200
    (late,) = [s for s in check(stack, [hung_job]).slides if s.number == 2]
    assert late.generations == 1 and late.faults >= 1

    # When the owner retries, the slide is generated once more, knowingly
    clean_images.set_faults([])
    assert api.retry(hung_job.job_id).status_code == 202
    assert wait_until_ended(api, [hung_job], timeout=60) == []
    findings = check(stack, [hung_job])
    findings.report("a provider hang past the OpenAI timeout, then a retry")
    findings.assert_invariants()
    assert hung_job.status == "completed"


def wait_for_answer(images, text: str, *, held_at_least: float, timeout: float = 30.0) -> dict:
    """The provider's logged answer to the request with `text` in its prompt that was held so long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in images.requests():
            if text in (request["prompt"] or "") and request["heldSeconds"] >= held_at_least:
                return request
        time.sleep(0.05)
    raise TimeoutError(f"no answer held {held_at_least} s for {text}")
