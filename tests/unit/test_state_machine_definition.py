from __future__ import annotations

import json
import re

import pytest

from statemachine import definition


def rendered(**numbers: int) -> dict:
    return json.loads(definition.render(numbers))


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
    assert (rate_limit["IntervalSeconds"], rate_limit["MaxAttempts"], rate_limit["JitterStrategy"]) == (
        1,
        7,
        "FULL",
    )
    left = set(re.findall(r"\$\{(\w+)\}", json.dumps(asl)))
    assert left == set(definition.TASK_FUNCTIONS)


def test_given_function_arns_when_rendered_then_every_task_invokes_its_function() -> None:
    arns = {name: f"arn:aws:lambda:us-east-1:1:function:{name}" for name in definition.TASK_FUNCTIONS}

    asl = json.loads(definition.render(text=arns))

    functions = {s["Parameters"]["FunctionName"] for s in states_of(asl).values() if s["Type"] == "Task"}
    assert functions == set(arns.values())


def test_given_no_arns_when_rendered_then_function_placeholders_stay_for_cdk() -> None:
    assert set(definition.TASK_FUNCTIONS) <= definition.placeholders()
    assert "${GenerateSlideImageFunctionArn}" in definition.render()


def test_given_an_unknown_number_when_rendered_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown numeric placeholders"):
        definition.render({"RetryForever": 1})


def test_the_map_walks_remaining_slides_with_configured_concurrency_and_pauses_before_each_image() -> None:
    asl = rendered()

    slides = asl["States"]["Generate remaining slides"]
    assert (slides["ItemsPath"], slides["MaxConcurrencyPath"]) == ("$.remainingSlides", "$.maxConcurrency")
    inner = slides["ItemProcessor"]
    assert inner["StartAt"] == "Pause for rate limit"
    assert inner["States"]["Pause for rate limit"] == {
        "Type": "Wait",
        "SecondsPath": "$.delaySeconds",
        "Next": "Generate slide image",
    }
    assert inner["States"]["Generate slide image"]["Catch"][0]["Next"] == "Record slide failure"


def test_every_task_result_is_kept_out_of_the_state_so_payloads_carry_ids_only() -> None:
    for name, state in states_of(rendered()).items():
        if state["Type"] == "Task" and name != "Finalize job":
            assert state["ResultPath"] is None, name


def test_the_workflow_breaking_anywhere_marks_the_job_failed() -> None:
    asl = rendered()

    for name in ("Record first slide failure", "Generate remaining slides", "Finalize job"):
        assert asl["States"][name]["Catch"][0]["Next"] == "Mark job failed", name
    assert asl["States"]["Mark job failed"]["Next"] == "Workflow failed"
