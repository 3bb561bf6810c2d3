from __future__ import annotations

import json

import pytest

from storyimages.domain.failures import MAX_MESSAGE_CHARS, describe_failure


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("ImageRejected", "IMAGE_REJECTED"),
        ("ImageRateLimited", "RATE_LIMITED"),
        ("ImageServiceUnavailable", "IMAGE_SERVICE_UNAVAILABLE"),
        ("ImageServiceMisconfigured", "IMAGE_SERVICE_MISCONFIGURED"),
        ("States.Timeout", "TIMEOUT"),
        ("States.Runtime", "WORKFLOW_ERROR"),
        ("KeyError", "UNEXPECTED_ERROR"),
        (None, "UNEXPECTED_ERROR"),
    ],
)
def test_given_a_caught_error_name_when_described_then_it_maps_to_a_stable_code(error: str | None, code: str) -> None:
    assert describe_failure(error, None).code == code


def test_given_a_lambda_error_cause_when_described_then_the_message_is_the_functions_message() -> None:
    cause = json.dumps({"errorType": "ImageRejected", "errorMessage": "content policy", "stackTrace": ["..."]})

    assert describe_failure("ImageRejected", cause).message == "content policy"


def test_given_a_plain_or_huge_cause_when_described_then_it_is_kept_short() -> None:
    assert describe_failure("States.Runtime", "path $.x not found").message == "path $.x not found"
    assert len(describe_failure("ImageRejected", "y" * 5000).message) == MAX_MESSAGE_CHARS


def test_given_an_error_that_is_not_ours_when_described_then_its_text_stays_in_the_logs() -> None:
    cause = json.dumps({"errorType": "ClientError", "errorMessage": "User: arn:aws:sts::123456789012:assumed-role/x"})

    failure = describe_failure("ClientError", cause)

    assert failure.code == "UNEXPECTED_ERROR"
    assert "arn:aws" not in failure.message


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("Lambda.TooManyRequestsException", "Lambda did not run the task (Lambda.TooManyRequestsException)"),
        ("SQS.AmazonSQSException", "the image queue did not take the slide (SQS.AmazonSQSException)"),
    ],
)
def test_given_a_task_the_platform_never_ran_when_described_then_no_function_log_is_blamed(
    error: str, says: str
) -> None:
    described = describe_failure(error, '{"errorMessage": "Rate Exceeded."}')

    assert described.code == "TASK_NOT_RUN"
    assert described.message.startswith(says)
    assert "function's log" not in described.message
