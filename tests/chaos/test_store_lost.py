"""The store itself lost: the emulator killed and restarted empty. Last in the suite: the
functions' gRPC channels come out of it in reconnect backoff, which a test after it would feel."""

from __future__ import annotations

from collections import Counter

from tests.chaos.invariants import Job, check, held, new_story, wait_until_ended
from tests.workflow_runs import wait_for_execution


def test_given_the_emulator_killed_and_restarted_empty_then_no_execution_hangs_and_new_jobs_run(
    stack, api, clean_images
) -> None:
    # Given jobs running (their images held), and the store then lost: the emulator keeps no
    # data, so what was running is gone with it; what can be asked is that nothing hangs or
    # answers 5xx, and that the system works again at once
    clean_images.set_faults([{"kind": "slow", "seconds": 60}])
    running = [Job(story, api.start_job(story), 3) for story in (new_story(stack, 3) for _ in range(3))]
    held(clean_images, count=len(running))

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
