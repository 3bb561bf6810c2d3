"""A job's end is decided once: cancels swept across the end of a job."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.chaos.conftest import LONG
from tests.chaos.invariants import Job, check, new_story, wait_until_ended, webhook_statuses
from tests.workflow_runs import wait_for_execution

RACES = 300 if LONG else 100
STEP_SECONDS = 0.004
AT_ONCE = 4


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
    # ... cancels fired at 4 ms steps from well before that end to well after it
    offsets = [max(0.0, duration - RACES / 2 * STEP_SECONDS) + k * STEP_SECONDS for k in range(RACES)]

    def race(offset: float) -> tuple[Job, int]:
        story_id = new_story(stack, 1)
        started = time.monotonic()
        job = Job(story_id, api.start_job(story_id, webhookUrl=receiver.url), 1)
        time.sleep(max(0.0, offset - (time.monotonic() - started)))  # the race's offset, the variable under test
        answer = api.cancel(job.job_id).status_code
        wait_for_execution(stack, job.job_id, timeout=120)  # Step Functions' view: no polling of our API
        return job, answer

    # When each runs
    with ThreadPoolExecutor(AT_ONCE) as pool:
        raced = list(pool.map(race, offsets))
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
    findings.report(
        f"{RACES} cancels at {STEP_SECONDS * 1000:g} ms steps around a {duration:.2f} s job's end"
        f" ({dict(outcomes)}); contradictory endings {len(contradictions)}"
    )
    findings.assert_invariants()
    assert contradictions == []
    assert {status for _, status in outcomes} >= {"cancelled"}  # the sweep did reach running jobs
