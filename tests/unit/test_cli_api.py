"""The CLI's HTTP client: URLs under any base, the answers' envelope, resends after lost connections."""

from __future__ import annotations

import pytest

from storyimages_cli.api import (
    NETWORK_ERROR,
    UNEXPECTED_ANSWER,
    ApiClient,
    ApiError,
    ConnectionFailed,
    HttpAnswer,
    StartOptions,
    endpoint_url,
    job_path,
)
from tests.cli_fakes import BASE_URL, JOB_ID, FakeClock, RecordingTransport, job, ok, refusal, slide, started


def client(transport: RecordingTransport, clock: FakeClock | None = None, base_url: str = BASE_URL) -> ApiClient:
    return ApiClient(base_url, "id-token", transport, sleep=(clock or FakeClock()).sleep)


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (
            "https://abc.execute-api.eu-west-1.amazonaws.com/dev/",
            "https://abc.execute-api.eu-west-1.amazonaws.com/dev/",
        ),
        ("https://abc.execute-api.eu-west-1.amazonaws.com/dev", "https://abc.execute-api.eu-west-1.amazonaws.com/dev/"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000/"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/"),
    ],
)
def test_given_a_base_url_with_or_without_a_stage_or_slash_when_joined_then_the_path_goes_under_it(
    base_url: str, expected: str
) -> None:
    assert endpoint_url(base_url, "api/images/master-job/j1") == expected + "api/images/master-job/j1"
    assert endpoint_url(base_url, "/api/images/master-job/j1") == expected + "api/images/master-job/j1"


def test_given_a_job_id_with_url_syntax_when_made_a_path_then_it_stays_one_segment() -> None:
    assert job_path("../x?y#z", "cancel") == "api/images/master-job/..%2Fx%3Fy%23z/cancel"


def test_given_each_call_when_sent_then_method_url_and_headers_are_the_apis() -> None:
    transport = RecordingTransport().answer(ok(job("generating", [slide(1)])), ok({}), ok({}, 202))
    api = client(transport)

    api.status(JOB_ID)
    api.cancel(JOB_ID)
    api.retry(JOB_ID)

    assert [(r.method, r.url, r.body) for r in transport.requests] == [
        ("GET", f"{BASE_URL}api/images/master-job/{JOB_ID}", None),
        ("POST", f"{BASE_URL}api/images/master-job/{JOB_ID}/cancel", None),
        ("POST", f"{BASE_URL}api/images/master-job/{JOB_ID}/retry", None),
    ]
    assert {r.headers["Authorization"] for r in transport.requests} == {"Bearer id-token"}
    assert all(timeout > 29 for timeout in transport.timeouts)  # past API Gateway's own 29 s cut


def test_given_start_options_when_started_then_only_the_options_given_are_sent_with_the_key() -> None:
    transport = RecordingTransport().answer(ok(started(), 202), ok(started(), 202))
    api = client(transport)

    api.start(StartOptions("fox"), "key-1")
    api.start(
        StartOptions(
            "fox",
            use_character_consistency=False,
            delay_seconds=0,
            size="1024x1536",
            quality="low",
            webhook_url="https://app.example.com/hooks",
        ),
        "key-2",
    )

    first, second = transport.requests
    assert (first.method, first.url) == ("POST", f"{BASE_URL}api/images/generate-all-automatically")
    assert first.body == {"storyId": "fox"}
    assert first.headers["Idempotency-Key"] == "key-1"
    assert second.body == {
        "storyId": "fox",
        "useCharacterConsistency": False,
        "delaySeconds": 0,
        "size": "1024x1536",
        "quality": "low",
        "webhookUrl": "https://app.example.com/hooks",
    }
    assert second.headers["Idempotency-Key"] == "key-2"


def test_given_lost_connections_when_starting_then_the_same_request_and_key_are_resent_after_pauses() -> None:
    transport = RecordingTransport().answer(ConnectionFailed("reset"), ConnectionFailed("reset"), ok(started(), 202))
    clock = FakeClock()

    data = client(transport, clock).start(StartOptions("fox"), "key-1")

    assert data["masterJobId"] == JOB_ID
    assert transport.requests == [transport.requests[0]] * 3  # the very same request, Idempotency-Key included
    assert transport.requests[0].headers["Idempotency-Key"] == "key-1"
    assert clock.sleeps == [1.0, 2.0]


def test_given_the_network_stays_down_when_called_then_network_error_after_three_attempts() -> None:
    transport = RecordingTransport().answer(*[ConnectionFailed("refused")] * 3)

    with pytest.raises(ApiError) as raised:
        client(transport).status(JOB_ID)

    assert (raised.value.status, raised.value.code) == (None, NETWORK_ERROR)
    assert "refused" in raised.value.message
    assert raised.value.transient
    assert len(transport.requests) == 3


def test_given_a_lost_connection_when_retrying_a_job_then_it_is_not_resent() -> None:
    transport = RecordingTransport().answer(ConnectionFailed("reset"))

    with pytest.raises(ApiError) as raised:
        client(transport).retry(JOB_ID)

    assert raised.value.code == NETWORK_ERROR
    assert raised.value.message == "reset (it may have reached the API: the job's status tells)"
    assert len(transport.requests) == 1


def test_given_the_apis_error_envelope_when_answered_then_api_error_carries_status_code_message_details() -> None:
    details = [{"field": "storyId", "problem": "too long"}]
    transport = RecordingTransport().answer(refusal(422, "INVALID_REQUEST", "storyId is too long", details))

    with pytest.raises(ApiError) as raised:
        client(transport).start(StartOptions("x" * 41), "key-1")

    error = raised.value
    assert (error.status, error.code, error.message, error.details) == (
        422,
        "INVALID_REQUEST",
        "storyId is too long",
        details,
    )
    assert str(error) == "INVALID_REQUEST: storyId is too long"
    assert not error.transient
    assert len(transport.requests) == 1  # an answer, even a refusal, is never resent


@pytest.mark.parametrize("text", ["<html>Bad Gateway</html>", "", '{"message": "Internal server error"}'])
def test_given_an_answer_that_is_not_the_apis_when_read_then_unexpected_answer_with_its_status(text: str) -> None:
    transport = RecordingTransport().answer(HttpAnswer(502, text))

    with pytest.raises(ApiError) as raised:
        client(transport).status(JOB_ID)

    assert (raised.value.status, raised.value.code) == (502, UNEXPECTED_ANSWER)
    assert "HTTP 502" in raised.value.message
    assert raised.value.transient


def test_given_a_success_status_without_the_success_envelope_when_read_then_unexpected_answer() -> None:
    transport = RecordingTransport().answer(HttpAnswer(200, '{"masterJob": {}}'))

    with pytest.raises(ApiError) as raised:
        client(transport).status(JOB_ID)

    assert raised.value.code == UNEXPECTED_ANSWER
