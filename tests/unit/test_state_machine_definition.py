from __future__ import annotations

import json
import re

import pytest

from statemachine import definition


def rendered(name: str = definition.IMAGE_GENERATION, **numbers: int) -> dict:
    return json.loads(definition.render(name, numbers))


def states_of(asl: dict) -> dict:
    """Every state, the Map's inner ones included."""
    found = dict(asl["States"])
    for state in asl["States"].values():
        if state["Type"] == "Map":
            found |= state["ItemProcessor"]["States"]
    return found


def test_given_retry_settings_when_rendered_then_they_become_integers_in_every_retrier() -> None:
    asl = rendered(RateLimitRetryIntervalSeconds=1, RateLimitRetryMaxAttempts=7)

    generate = states_of(asl)["Generate slide image"]
    rate_limit = next(r for r in generate["Retry"] if r["ErrorEquals"] == ["ImageRateLimited"])
    assert (rate_limit["IntervalSeconds"], rate_limit["MaxAttempts"], rate_limit["JitterStrategy"]) == (1, 7, "FULL")
    left = set(re.findall(r"\$\{(\w+)\}", json.dumps(asl)))
    assert left == definition.text_placeholders(definition.IMAGE_GENERATION)


@pytest.mark.parametrize("name", definition.STATE_MACHINES)
def test_every_task_names_a_retry_policy_and_gets_that_policy_written_in(name: str) -> None:
    written = states_of(json.loads(definition.asl_path(name).read_text()))
    tasks = states_of(rendered(name, StoreRetryMaxAttempts=11))

    assert {s for s, state in written.items() if state["Type"] == "Task"} == {
        s for s in written if "Retry" in written[s]
    }
    for state in (s for s in written if "Retry" in written[s]):
        # Each list is written once, in definition.RETRY_POLICIES, not copied into the file.
        policy = re.fullmatch(r"\$\{(\w+)\}", written[state]["Retry"])
        assert policy and policy.group(1) in definition.RETRY_POLICIES, state
        retry = tasks[state]["Retry"]
        assert len(retry) == len(definition.RETRY_POLICIES[policy.group(1)]), state
        assert all(isinstance(r["IntervalSeconds"], int) and isinstance(r["MaxAttempts"], int) for r in retry), state
        assert all(r["MaxAttempts"] == 11 for r in retry if "StoreUnavailable" in r["ErrorEquals"]), state


@pytest.mark.parametrize("name", definition.STATE_MACHINES)
def test_given_arns_when_rendered_then_every_placeholder_is_filled(name: str) -> None:
    arns = {
        placeholder: f"arn:aws:lambda:us-east-1:1:function:{placeholder}" for placeholder in definition.TASK_FUNCTIONS
    }
    queue = "https://sqs.us-east-1.amazonaws.com/1/images"

    text = definition.render(name, text=arns | {definition.IMAGE_QUEUE_URL: queue})

    assert "${" not in text
    functions = {
        s["Parameters"]["FunctionName"]
        for s in states_of(json.loads(text)).values()
        if s["Type"] == "Task" and "FunctionName" in s.get("Parameters", {})
    }
    assert functions == {arns[p] for p in definition.text_placeholders(name) if p in definition.TASK_FUNCTIONS}
    queues = {
        s["Parameters"]["QueueUrl"]
        for s in states_of(json.loads(text)).values()
        if "QueueUrl" in s.get("Parameters", {})
    }
    assert queues == ({queue} if name == definition.IMAGE_GENERATION else set())


def test_given_no_arns_when_rendered_then_function_placeholders_stay_for_cdk() -> None:
    assert "${QueueSlideImageFunctionArn}" in definition.render()
    assert "${ImageQueueUrl}" in definition.render()
    assert "${DeliverWebhookFunctionArn}" in definition.render(definition.WEBHOOK_DELIVERY)


def test_given_an_unknown_number_or_machine_when_rendered_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown numeric placeholders"):
        definition.render(numbers={"RetryForever": 1})
    with pytest.raises(ValueError, match="no state machine"):
        definition.render("nothing")


def test_the_map_walks_remaining_slides_with_configured_concurrency_and_pauses_before_each_image() -> None:
    slides = rendered()["States"]["Generate remaining slides"]

    assert (slides["ItemsPath"], slides["MaxConcurrencyPath"]) == ("$.remainingSlides", "$.maxConcurrency")
    inner = slides["ItemProcessor"]
    assert inner["StartAt"] == "Pause for rate limit"
    assert inner["States"]["Pause for rate limit"] == {
        "Type": "Wait",
        "SecondsPath": "$.delaySeconds",
        "Next": "Queue slide image",
    }
    assert inner["States"]["Queue slide image"]["Next"] == "Generate slide image"
    for name in ("Queue slide image", "Generate slide image"):
        assert inner["States"][name]["Catch"][0]["Next"] == "Record slide failure"


def test_every_image_waits_in_the_shared_queue_and_answers_through_its_task_token() -> None:
    states = states_of(rendered(ImageQueueTimeoutSeconds=600))

    for name, slide in (("Generate first slide image", "$.firstSlide"), ("Generate slide image", "$.slideNumber")):
        state = states[name]
        assert state["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        assert state["Parameters"]["MessageBody"] == {
            "masterJobId.$": "$.masterJobId",
            "slideNumber.$": slide,
            "run.$": "$.run",
            "taskToken.$": "$$.Task.Token",
        }
        # A token nothing will answer (its message lost) ends the wait instead of holding the story.
        assert state["TimeoutSeconds"] == 600
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert {"ImageRateLimited", "ImageServiceUnavailable", "StoreUnavailable", "SQS.SdkClientException"} <= retried
    assert states["Queue first slide image"]["Next"] == "Generate first slide image"


def test_every_slide_task_result_is_kept_out_of_the_state_so_payloads_carry_ids_only() -> None:
    for name, state in states_of(rendered()).items():
        if state["Type"] == "Task" and name not in {"Finalize job", "Mark job failed"}:
            assert state["ResultPath"] is None, name


def test_the_workflow_breaking_anywhere_marks_the_job_failed_and_every_ending_is_told_apart() -> None:
    states = rendered()["States"]

    for name in ("Record first slide failure", "Generate remaining slides", "Finalize job"):
        assert states[name]["Catch"][0]["Next"] == "Mark job failed", name
    assert states["Finalize job"]["Next"] == states["Mark job failed"]["Next"] == "How did the job end?"
    endings = {choice["Next"] for choice in states["How did the job end?"]["Choices"]}
    assert endings | {states["How did the job end?"]["Default"]} == {
        "Workflow failed",
        "No image was generated",
        "Job finished",
    }


def test_the_webhook_delivery_retries_refusals_with_backoff_and_records_giving_up() -> None:
    states = rendered(definition.WEBHOOK_DELIVERY, WebhookRetryIntervalSeconds=2, WebhookRetryMaxAttempts=4)["States"]

    retry = states["Deliver webhook"]["Retry"][0]
    assert (retry["ErrorEquals"], retry["IntervalSeconds"], retry["MaxAttempts"]) == (["WebhookDeliveryFailed"], 2, 4)
    assert retry["BackoffRate"] == 2
    assert states["Deliver webhook"]["Catch"][0]["Next"] == "Record webhook failure"
    assert states["Record webhook failure"]["Next"] == "Webhook not delivered"
    # Both tasks read and write the job, and ride out its store's outages like every other task.
    for name in ("Deliver webhook", "Record webhook failure"):
        store = [r for r in states[name]["Retry"] if r["ErrorEquals"] == ["StoreUnavailable"]]
        assert [r["MaxAttempts"] for r in store] == [definition.RETRY_DEFAULTS["StoreRetryMaxAttempts"]], name
