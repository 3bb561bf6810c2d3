"""One job per story at a time, however many starts arrive at once; Idempotency-Key replays."""

from __future__ import annotations

import threading

from tests.conftest import TEST_IMAGE_SIZE
from tests.workflow_runs import master_jobs_of, wait_for


def executions_of(stack, job_ids: set[str]) -> list[str]:  # type: ignore[no-untyped-def]
    sfn = stack.aws.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=1000)["executions"]
    return [e["name"] for e in listed if e["name"] in job_ids]


def test_given_twenty_identical_starts_at_once_when_they_land_then_one_job_and_one_execution(
    stack, api, new_story, images
) -> None:
    # Given a story whose first image takes until every start has been answered, so that even
    # starts held up by cold starts (each a new execution environment) find its job running
    story = new_story(2)
    images.set_faults([{"kind": "slow", "seconds": 60, "times": 1}])
    responses = []
    barrier = threading.Barrier(20)

    def start() -> None:
        barrier.wait()
        responses.append(api.start(story))

    threads = [threading.Thread(target=start) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then, once the image goes on (rules cleared first, so a request still to come is not held)
    images.set_faults([])
    images.release_held_requests()

    ids = {r.json()["data"]["masterJobId"] for r in responses}
    assert len(ids) == 1
    assert sorted(r.status_code for r in responses) == [200] * 19 + [202]
    assert sum(r.json()["data"]["alreadyRunning"] for r in responses) == 19
    assert len(master_jobs_of(stack, story)) == 1
    assert executions_of(stack, ids) == list(ids)
    assert api.wait(ids.pop())["masterJob"]["status"] == "completed"


def test_given_a_finished_job_when_the_story_is_started_again_then_a_new_job_runs(
    stack, api, new_story, images
) -> None:
    story = new_story(1)
    first = api.start_job(story)
    api.wait(first)

    second = api.start(story)

    assert second.status_code == 202
    assert second.json()["data"]["masterJobId"] != first


def test_given_an_idempotency_key_when_the_request_is_sent_again_later_then_the_same_job_comes_back(
    stack, api, new_story, images
) -> None:
    story = new_story(1)
    first = api.start(story, headers={"Idempotency-Key": "checkout-7f3a"})
    api.wait(first.json()["data"]["masterJobId"])

    again = api.start(story, headers={"Idempotency-Key": "checkout-7f3a"})

    assert again.status_code == 200
    assert again.json()["data"]["masterJobId"] == first.json()["data"]["masterJobId"]
    assert again.json()["data"]["idempotentReplay"] is True
    assert len(master_jobs_of(stack, story)) == 1


def test_given_an_idempotency_key_when_reused_for_another_body_then_422(stack, api, new_story, images) -> None:
    story = new_story(1)
    api.start(story, headers={"Idempotency-Key": "k-1"})

    reused = api.start(story, headers={"Idempotency-Key": "k-1"}, useCharacterConsistency=False)

    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_given_an_idempotency_key_when_the_request_comes_again_naming_the_defaults_then_the_same_job_comes_back(
    stack, api, new_story, images
) -> None:
    # Given a keyed start that left every option to the deployment (no pause, quick images, medium)
    story = new_story(1)
    first = api.start(story, headers={"Idempotency-Key": "k-defaults"})

    # When the same request comes again, naming each default it was given
    again = api.start(
        story,
        headers={"Idempotency-Key": "k-defaults"},
        delaySeconds=0,
        size=TEST_IMAGE_SIZE,
        quality="medium",
        useCharacterConsistency=True,
        webhookUrl=None,
    )
    # and once more naming one option differently
    different = api.start(story, headers={"Idempotency-Key": "k-defaults"}, delaySeconds=1)

    # Then the equivalent request replays the first job; the different one is refused
    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["data"]["masterJobId"] == first.json()["data"]["masterJobId"]
    assert again.json()["data"]["idempotentReplay"] is True
    assert (different.status_code, different.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert len(master_jobs_of(stack, story)) == 1
    api.wait(first.json()["data"]["masterJobId"])


def test_given_a_job_stopped_from_the_console_when_the_story_is_started_then_the_story_is_not_locked(
    stack, api, new_story, images
) -> None:
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.5}])
    story = new_story(3)
    stuck = api.start_job(story)
    arn = stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{stuck}"
    stack.aws.client("stepfunctions").stop_execution(executionArn=arn, cause="an operator stopped it")
    # AWS reports ABORTED at once; moto only once the task in flight returns.
    assert wait_for(stack, stuck).status == "ABORTED"
    images.reset()

    replaced = api.start(story)

    assert replaced.status_code == 202
    assert api.status(stuck).json()["data"]["masterJob"]["error"]["code"] == "WORKFLOW_LOST"
    assert api.wait(replaced.json()["data"]["masterJobId"])["masterJob"]["status"] == "completed"
