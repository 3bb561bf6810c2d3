"""A job's end is decided once: cancels swept across the end of a job.

Where that end falls moves with the machine's load (a job measured at 1.66 s had ended for every
cancel within 0.2 s of it on a busy CI host), so the sweep does not aim at a measured instant: each
worker walks a staircase, stepping its next cancel later after one that cancelled and earlier after
one that came too late, halving the step at each reversal down to a few milliseconds. The cancels
gather on the boundary wherever it lies, and both endings are reached by construction.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.chaos.conftest import LONG
from tests.chaos.invariants import Job, check, new_story, wait_until_ended, webhook_statuses
from tests.workflow_runs import wait_for_execution

RACES = 300 if LONG else 100
AT_ONCE = 4
FIRST_STEP_SECONDS = 0.128
FINEST_STEP_SECONDS = 0.004


def test_given_cancels_swept_across_the_end_of_a_job_then_every_run_has_one_ending_and_one_webhook_saying_it(
    stack, api, receiver, clean_images
) -> None:
    # Given how long a one-slide job takes here, AT_ONCE at a time, warm (the first wave cold-starts
    # the functions' environments)
    def ended_after(_: int) -> float:
        story = new_story(stack, 1)
        began = time.monotonic()
        job_id = api.start_job(story)
        wait_for_execution(stack, job_id, timeout=60)
        return time.monotonic() - began

    with ThreadPoolExecutor(AT_ONCE) as pool:
        list(pool.map(ended_after, range(AT_ONCE)))
        duration = statistics.median(pool.map(ended_after, range(AT_ONCE)))

    def race(offset: float) -> tuple[Job, int]:
        story_id = new_story(stack, 1)
        started = time.monotonic()
        job = Job(story_id, api.start_job(story_id, webhookUrl=receiver.url), 1)
        time.sleep(max(0.0, offset - (time.monotonic() - started)))  # the race's offset, the variable under test
        answer = api.cancel(job.job_id).status_code
        wait_for_execution(stack, job.job_id, timeout=120)  # Step Functions' view: no polling of our API
        return job, answer

    # ... each worker's cancels walking a staircase from that duration onto the job's end
    def staircase(_: int) -> list[tuple[Job, int, float]]:
        offset, step, cancelled_last = duration, FIRST_STEP_SECONDS, None
        walked = []
        for _ in range(RACES // AT_ONCE):
            job, answer = race(offset)
            walked.append((job, answer, step))
            cancelled = answer == 200
            if cancelled_last is not None and cancelled != cancelled_last:
                step = max(FINEST_STEP_SECONDS, step / 2)
            cancelled_last = cancelled
            offset = offset + step if cancelled else max(0.0, offset - step)
        return walked

    # When each runs
    with ThreadPoolExecutor(AT_ONCE) as pool:
        walked = [one for stairs in pool.map(staircase, range(AT_ONCE)) for one in stairs]
    raced = [(job, answer) for job, answer, _ in walked]
    jobs = [job for job, _ in raced]
    stuck = wait_until_ended(api, jobs, timeout=120)
    receiver.wait_for(len(jobs), timeout=60)
    for job in jobs:  # each run's one delivery has run its course
        wait_for_execution(
            stack, job.job_id, execution=f"{job.job_id}-notify-0", machine=stack.webhook_state_machine_arn
        )

    # Then a cancel answered 200 exactly when the job reads cancelled, 409 when it finished first,
    # and each job's one webhook says how it ended
    contradictions = []
    for job, answer in raced:
        agrees = (answer == 200) == (job.status == "cancelled") and answer in {200, 409}
        said = webhook_statuses(receiver, job.job_id)
        if not agrees or said != [job.status]:
            contradictions.append((job.job_id, answer, job.status, said))
    findings = check(stack, [j for j in jobs if j not in stuck], stuck)
    outcomes = Counter((answer, job.status) for job, answer in raced)
    at_finest = sum(1 for _, _, step in walked if step == FINEST_STEP_SECONDS)
    findings.report(
        f"{RACES} cancels on {AT_ONCE} staircases onto a job's end (a {duration:.2f} s job measured),"
        f" {at_finest} of them at {FINEST_STEP_SECONDS * 1000:g} ms steps"
        f" ({dict(outcomes)}); contradictory endings {len(contradictions)}"
    )
    findings.assert_invariants()
    assert contradictions == []
    assert {status for _, status in outcomes} == {"cancelled", "completed"}  # the sweep reached both sides
