"""The local gateway sends the Lambdas what a deployed REST API sends them, checked against models
that are not ours: Powertools' parser models (`APIGatewayProxyEventModel`,
`ApiGatewayAuthorizerToken`), a real REST proxy event's fields (Powertools' test event
tests/events/apiGatewayProxyEvent.json, and a REST event captured live in 2026 in
hotsock/voker vokerhttp/testdata/apigwv1-request.json: the path kept percent-encoded, repeated
headers and query parameters apart, the headers API Gateway adds) and AWS's documentation of a
Lambda authorizer's request context (principalId, integrationLatency, context values as strings)."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import ApiGatewayAuthorizerToken, APIGatewayProxyEventModel

from infra.function_catalogue import function_name
from local_stack.gateway import AUTHORIZER_FUNCTION, STAGE
from storyimages.api.routes import ROUTES
from storyimages.api.schemas import JobStatusResponse
from tests.api_client import RUNNING, START, ApiClient

API_FUNCTIONS = {function_name(route.function) for route in ROUTES}
STATUS = "/api/images/master-job/{}"
PROBE = "X-Fidelity-Probe"

# A REST proxy event's fields (the live capture and Powertools' test event agree on these; the
# test event's "version": "1.0" is not in the capture and is left out, as API Gateway does).
EVENT_FIELDS = {
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "body",
    "isBase64Encoded",
}
CONTEXT_FIELDS = {
    "accountId",
    "apiId",
    "authorizer",
    "domainName",
    "domainPrefix",
    "extendedRequestId",
    "httpMethod",
    "identity",
    "path",
    "protocol",
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "resourceId",
    "resourcePath",
    "stage",
}
IDENTITY_FIELDS = {
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "sourceIp",
    "user",
    "userAgent",
    "userArn",
}
ADDED_BY_API_GATEWAY = {"X-Amzn-Trace-Id", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"}


def send(
    stack: Any, method: str, path: str, headers: Sequence[tuple[str, str]], body: bytes | None = None
) -> tuple[int, bytes, http.client.HTTPMessage]:
    """One request with exactly these header lines (repeats and names' case kept)."""
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


def fresh_token(stack: Any) -> tuple[str, str]:
    """(uid, token) for a user no request has authorized yet: not in the authorizer cache."""
    uid = f"fidelity-{uuid.uuid4().hex[:10]}"
    return uid, stack.token(uid)


def api_events(stack: Any, since: int) -> list[dict[str, Any]]:
    return [i.event for i in stack.lambdas.invocations[since:] if i.function_name in API_FUNCTIONS]


def authorizer_events(stack: Any, since: int) -> list[dict[str, Any]]:
    return [i.event for i in stack.lambdas.invocations[since:] if i.function_name == AUTHORIZER_FUNCTION]


def probed(stack: Any, since: int, probe: str) -> dict[str, Any]:
    """The one proxy event the request carrying `probe` became."""
    (event,) = [e for e in api_events(stack, since) if (e.get("headers") or {}).get(PROBE) == probe]
    return event


def probed_request(
    stack: Any,
    token: str,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
) -> tuple[int, bytes, str]:
    """A request as `token`'s user, marked so that `probed` finds the event it became."""
    probe = uuid.uuid4().hex
    status, answer, _ = send(
        stack, method, path, [("Authorization", f"Bearer {token}"), (PROBE, probe), *headers], body
    )
    return status, answer, probe


def test_given_requests_of_every_kind_when_the_gateway_builds_events_then_each_validates_with_powertools_models(
    stack, api, new_story, images
) -> None:
    since = len(stack.lambdas.invocations)
    _, token = fresh_token(stack)
    auth = [("Authorization", f"Bearer {token}")]
    owner = [("Authorization", f"Bearer {api.token}")]  # of the stories new_story writes
    story = new_story(1)

    answers = [
        send(stack, "GET", STATUS.format("auto-gen-x-1") + "?tag=a&tag=b&one=x&empty=&plus=a+b&enc=a%2Bb", auth),
        send(
            stack, "POST", START, [*owner, ("Content-Type", "application/json")], f'{{"storyId": "{story}"}}'.encode()
        ),
        send(stack, "GET", STATUS.format("auto-gen-x-1"), [*auth, ("X-Note", "one"), ("X-Note", "two")]),
        send(stack, "POST", START, [*auth, ("Content-Type", "application/json")], b'\xff\xfe{"storyId": "x"}'),
        send(stack, "POST", START, [*auth, ("Content-Type", "application/octet-stream")], bytes(range(256))),
        send(stack, "GET", STATUS.format("auto-gen-%C3%BC-%E4%B8%96-1"), auth),
        send(stack, "GET", STATUS.format("auto-gen-a%20b-1"), [("authorization", f"Bearer {token}")]),
        send(stack, "POST", STATUS.format("auto-gen-x-1") + "/cancel", auth),
        send(
            stack,
            "POST",
            STATUS.format("auto-gen-x-1") + "/retry",
            [*auth, ("Content-Type", "application/json")],
            b"{}",
        ),
        send(stack, "GET", STATUS.format("auto-gen-x-1"), owner),
    ]

    assert [status for status, _, _ in answers] == [404, 202, 404, 400, 415, 422, 422, 404, 404, 404]
    events, authorizations = api_events(stack, since), authorizer_events(stack, since)
    assert len(events) == len(answers)
    assert {event["resource"] for event in events} == {route.resource for route in ROUTES}
    for event in events:
        APIGatewayProxyEventModel.model_validate(event)
        assert set(event) == EVENT_FIELDS
        assert set(event["requestContext"]) >= CONTEXT_FIELDS
        assert set(event["requestContext"]["identity"]) >= IDENTITY_FIELDS
    assert authorizations  # the fresh token at least; api.token may be cached from earlier tests
    for authorization in authorizations:
        ApiGatewayAuthorizerToken.model_validate(authorization)
    assert api.wait(json.loads(answers[1][1])["data"]["masterJobId"])["masterJob"]["status"] == "completed"


def test_given_a_request_when_it_becomes_an_event_then_its_context_is_filled_as_api_gateway_fills_it(
    stack, api
) -> None:
    since = len(stack.lambdas.invocations)
    uid, token = fresh_token(stack)
    before = int(time.time() * 1000)

    probe = uuid.uuid4().hex
    status, _, answer_headers = send(
        stack,
        "GET",
        STATUS.format("auto-gen-x-1"),
        [("Authorization", f"Bearer {token}"), (PROBE, probe), ("User-Agent", "fidelity/1.0")],
    )

    after = int(time.time() * 1000)
    assert status == 404
    event = probed(stack, since, probe)
    context = event["requestContext"]
    assert answer_headers["x-amzn-RequestId"] == context["requestId"]
    assert answer_headers["x-amz-apigw-id"] == context["extendedRequestId"]
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/api/images/master-job/{masterJobId}",
        "/api/images/master-job/auto-gen-x-1",
        "GET",
    )
    assert event["pathParameters"] == {"masterJobId": "auto-gen-x-1"}
    assert (event["queryStringParameters"], event["multiValueQueryStringParameters"]) == (None, None)
    assert (event["body"], event["isBase64Encoded"], event["stageVariables"]) == (None, False, None)
    assert context["resourcePath"] == event["resource"]
    assert context["path"] == f"/{STAGE}{event['path']}"
    assert (context["stage"], context["httpMethod"], context["protocol"]) == (STAGE, "GET", "HTTP/1.1")
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", context["requestTime"])
    assert before <= context["requestTimeEpoch"] <= after
    assert uuid.UUID(context["requestId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", context["extendedRequestId"])
    assert re.fullmatch(r"[a-z0-9]{6}", context["resourceId"])
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "fidelity/1.0"
    assert set(event["headers"]) >= ADDED_BY_API_GATEWAY
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", event["headers"]["X-Amzn-Trace-Id"])
    # AWS: a Lambda authorizer's principalId and context values (strings), and integrationLatency.
    authorizer = context["authorizer"]
    assert authorizer["principalId"] == uid
    assert authorizer["uid"] == uid
    assert isinstance(authorizer["integrationLatency"], int) and authorizer["integrationLatency"] >= 0
    assert all(isinstance(value, str) for key, value in authorizer.items() if key != "integrationLatency")
    (authorization,) = authorizer_events(stack, since)
    assert authorization == {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {token}",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:local/{STAGE}/GET/api/images/master-job/auto-gen-x-1",
    }


def test_given_repeated_headers_when_sent_then_multi_value_headers_has_each_and_headers_the_last(stack, api) -> None:
    since = len(stack.lambdas.invocations)

    status, _, probe = probed_request(
        stack,
        api.token,
        "GET",
        STATUS.format("auto-gen-x-1"),
        headers=[("X-Note", "first"), ("x-MiXeD-Case", "as sent"), ("X-Note", "second"), ("X-Note", "third, fourth")],
    )

    assert status == 404
    event = probed(stack, since, probe)
    assert event["multiValueHeaders"]["X-Note"] == ["first", "second", "third, fourth"]
    assert event["headers"]["X-Note"] == "third, fourth"
    assert event["headers"]["x-MiXeD-Case"] == "as sent"
    assert "X-Mixed-Case" not in event["headers"]
    assert set(event["headers"]) == set(event["multiValueHeaders"])
    assert all(event["headers"][name] == values[-1] for name, values in event["multiValueHeaders"].items())


def test_given_a_client_forwarded_for_when_sent_then_api_gateway_appends_the_caller_and_keeps_one_value(
    stack, api
) -> None:
    since = len(stack.lambdas.invocations)

    _, _, probe = probed_request(
        stack, api.token, "GET", STATUS.format("auto-gen-x-1"), headers=[("x-forwarded-for", "203.0.113.9")]
    )

    event = probed(stack, since, probe)
    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["203.0.113.9, 127.0.0.1"]
    assert "x-forwarded-for" not in event["headers"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_given_repeated_query_parameters_when_sent_then_multi_value_has_each_and_single_value_the_last(
    stack, api
) -> None:
    since = len(stack.lambdas.invocations)

    _, _, probe = probed_request(
        stack, api.token, "GET", STATUS.format("auto-gen-x-1") + "?tag=a&one=x&tag=b&empty=&plus=a+b&enc=a%2Bb&tag=c"
    )

    event = probed(stack, since, probe)
    assert event["queryStringParameters"] == {"tag": "c", "one": "x", "empty": "", "plus": "a b", "enc": "a+b"}
    assert event["multiValueQueryStringParameters"] == {
        "tag": ["a", "b", "c"],
        "one": ["x"],
        "empty": [""],
        "plus": ["a b"],
        "enc": ["a+b"],
    }


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("application/json", 400), ("application/octet-stream", 415), ("image/png", 415)],
)
def test_given_no_binary_media_types_when_a_non_utf8_body_is_posted_then_it_arrives_as_text(
    stack, api, content_type: str, status: int
) -> None:
    since = len(stack.lambdas.invocations)
    body = b'\xff\xfe\x00{"storyId": "abc"}'

    answered, _, probe = probed_request(
        stack, api.token, "POST", START, headers=[("Content-Type", content_type)], body=body
    )

    assert answered == status
    event = probed(stack, since, probe)
    assert event["isBase64Encoded"] is False
    assert event["body"] == body.decode("utf-8", errors="replace")


@pytest.mark.parametrize(
    ("sent", "parameter"),
    [
        ("auto-gen-%C3%BC-%E4%B8%96-1", "auto-gen-%C3%BC-%E4%B8%96-1"),
        ("auto-gen-a%20b-1", "auto-gen-a%20b-1"),
        ("auto-gen-ok_-1", "auto-gen-ok_-1"),
    ],
)
def test_given_an_encoded_path_parameter_when_sent_then_the_event_keeps_the_path_as_sent(
    stack, api, sent: str, parameter: str
) -> None:
    # A REST API passes `path` and `pathParameters` percent-encoded, as the client sent them.
    since = len(stack.lambdas.invocations)

    status, _, probe = probed_request(stack, api.token, "GET", STATUS.format(sent))

    event = probed(stack, since, probe)
    assert event["path"] == STATUS.format(sent)
    assert event["requestContext"]["path"] == f"/{STAGE}{STATUS.format(sent)}"
    assert event["pathParameters"] == {"masterJobId": parameter}
    assert status == (404 if "%" not in sent else 422)


@pytest.mark.parametrize(
    "shape",
    ["BEARER {jwt}", "Token {jwt}", "Bearer  {jwt}", "Bearer {jwt} ", "{jwt}", "Bearer {jwt}.x", "garbage", "Bearer"],
)
def test_given_a_token_the_identity_expression_refuses_when_sent_then_401_without_invoking_the_authorizer(
    stack, shape: str
) -> None:
    _, token = fresh_token(stack)  # one the authorizer would accept
    since, calls = len(stack.lambdas.invocations), stack.gateway_app.authorizer_calls

    response = requests.get(
        f"{stack.url}{STATUS.format('auto-gen-x-1')}", headers={"Authorization": shape.format(jwt=token)}, timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (401, "UNAUTHORIZED")
    assert stack.gateway_app.authorizer_calls == calls
    assert authorizer_events(stack, since) == []
    assert api_events(stack, since) == []


def test_given_a_lowercase_bearer_scheme_when_sent_then_the_expression_passes_it_to_the_authorizer(stack) -> None:
    _, token = fresh_token(stack)
    calls = stack.gateway_app.authorizer_calls

    response = requests.get(
        f"{stack.url}{STATUS.format('auto-gen-x-1')}", headers={"Authorization": f"bearer {token}"}, timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (404, "JOB_NOT_FOUND")
    assert stack.gateway_app.authorizer_calls == calls + 1


def test_given_a_cached_policy_when_another_route_is_called_with_the_token_then_it_is_evaluated_for_that_route(
    stack,
) -> None:
    since = len(stack.lambdas.invocations)
    uid, token = fresh_token(stack)
    client = ApiClient(stack.url, token)
    calls = stack.gateway_app.authorizer_calls

    first = client.status("auto-gen-x-1")
    then = [client.cancel("auto-gen-x-1"), client.retry("auto-gen-x-1"), client.start("no-such-story")]

    # The authorizer ran once, for the GET; its cached policy (every route of the stage) let the
    # POSTs through to their Lambdas, which answered.
    assert stack.gateway_app.authorizer_calls == calls + 1
    (authorization,) = authorizer_events(stack, since)
    assert "/GET/api/images/master-job/auto-gen-x-1" in authorization["methodArn"]
    assert [(r.status_code, r.json()["error"]["code"]) for r in [first, *then]] == [
        (404, "JOB_NOT_FOUND"),
        (404, "JOB_NOT_FOUND"),
        (404, "JOB_NOT_FOUND"),
        (404, "STORY_NOT_FOUND"),
    ]
    events = api_events(stack, since)
    assert [(e["httpMethod"], e["resource"].rsplit("/", 1)[-1]) for e in events] == [
        ("GET", "{masterJobId}"),
        ("POST", "cancel"),
        ("POST", "retry"),
        ("POST", "generate-all-automatically"),
    ]
    assert {e["requestContext"]["authorizer"]["principalId"] for e in events} == {uid}
    assert [e["requestContext"]["authorizer"]["integrationLatency"] for e in events[1:]] == [0, 0, 0]


def test_given_fifty_concurrent_polls_of_a_running_job_when_answered_then_each_is_a_well_formed_200(
    stack, api, new_story, images
) -> None:
    # Given a job whose first image is held until every poll has been answered
    images.set_faults([{"kind": "slow", "seconds": 120, "times": 1}])
    job_id = api.start_job(new_story(2))
    url, headers = f"{stack.url}{STATUS.format(job_id)}", api.headers()
    pollers = 50
    barrier = threading.Barrier(pollers)
    answers: list[requests.Response | BaseException] = []
    lock = threading.Lock()

    def poll() -> None:
        barrier.wait(timeout=60)
        try:
            answer: requests.Response | BaseException = requests.get(url, headers=headers, timeout=120)
        except requests.RequestException as exc:
            answer = exc
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=poll, name=f"poller-{n}") for n in range(pollers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 180
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    images.set_faults([])
    images.release_held_requests()

    assert not any(thread.is_alive() for thread in threads)
    assert len(answers) == pollers
    failures = [a if isinstance(a, BaseException) else (a.status_code, a.text[:200]) for a in answers]
    assert all(isinstance(a, requests.Response) and a.status_code == 200 for a in answers), failures
    for answer in answers:
        assert isinstance(answer, requests.Response)
        body = JobStatusResponse.model_validate(answer.json())
        assert body.data.master_job.job_id == job_id
        assert body.data.master_job.status in RUNNING
        assert [slide.slide_number for slide in body.data.slide_jobs] == [1, 2]
        assert body.data.summary.total_slides == 2
    assert api.wait(job_id, timeout=120)["masterJob"]["status"] == "completed"
