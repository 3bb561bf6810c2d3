"""A job's end is decided once: cancels swept across the end of a job, and the store itself lost."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.chaos.conftest import LONG
from tests.chaos.invariants import Job, check, new_story, slide_reads, wait_until_ended, webhook_statuses
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


def test_given_the_emulator_killed_and_restarted_empty_then_no_execution_hangs_and_new_jobs_run(
    stack, api, clean_images
) -> None:
    # Given jobs running (their images held), and the store then lost: the emulator keeps no
    # data, so what was running is gone with it; what can be asked is that nothing hangs or
    # answers 5xx, and that the system works again at once
    clean_images.set_faults([{"kind": "slow", "seconds": 60}])
    running = [Job(story, api.start_job(story), 3) for story in (new_story(stack, 3) for _ in range(3))]
    for job in running:
        slide_reads(stack, job.job_id, 1, "generating")

    # When the emulator is killed and an empty one started
    stack.restart_firestore()
    clean_images.release_held_requests()
    clean_images.set_faults([])

    # Then every execution of the lost jobs ends (JobNotFound is not retried) ...
    ended = [wait_for_execution(stack, job.job_id, timeout=120)["status"] for job in running]
    assert set(ended) <= {"FAILED", "SUCCEEDED"}
    # ... their ends reach EndAbandonedJob, which finds nothing to end and does not fail
    outcomes = [
        stack.events.settled(job.job_id, timeout=30).outcome
        for job, status in zip(running, ended, strict=True)
        if status == "FAILED"
    ]
    assert outcomes == ["handled"] * ended.count("FAILED")
    # ... the app reads them as not found, not as a server error
    answers = {api.status(job.job_id).status_code for job in running}
    assert answers == {404}
    # ... and a new story runs to the end on the new store
    fresh = Job(story := new_story(stack, 2), api.start_job(story), 2)
    assert wait_until_ended(api, [fresh], timeout=60) == []
    findings = check(stack, [fresh])
    findings.report(
        f"emulator restarted under {len(running)} running jobs: executions ended {dict(Counter(ended))},"
        f" status reads {sorted(answers)}, a new job {fresh.status}"
    )
    findings.assert_invariants()
    assert fresh.status == "completed"
