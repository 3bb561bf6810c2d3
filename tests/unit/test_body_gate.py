"""The body gate answers first, on every route, with or without a body: before Powertools'
request validation parses a body, and over any refusal of the validation."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel

from storyimages.api.resolver import api_resolver
from storyimages.settings import ApiSettings

MAX_BYTES = 1024
app = api_resolver(ApiSettings(max_body_bytes=MAX_BYTES))


class Thing(BaseModel):
    name: str


@app.post("/things")
def create(thing: Annotated[Thing, Body()]) -> dict[str, Any]:
    return {"name": thing.name}


@app.post("/things/<thing_id>/go")
def go(thing_id: Annotated[str, Path(pattern=r"^[a-z]+$")]) -> dict[str, Any]:
    return {"id": thing_id}


def post(path: str, body: str | None, content_type: str | None = "application/json", *, b64: bool = False) -> Any:
    headers = {"content-type": content_type} if content_type else {}
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": "POST", "stage": "api", "requestId": "r", "path": path},
        "body": body,
        "isBase64Encoded": b64,
    }
    response = app.resolve(event, None)  # type: ignore[arg-type]
    answer = json.loads(response["body"])
    return response["statusCode"], (answer.get("error") or {}).get("code")


TOO_LARGE = json.dumps({"name": "x" * MAX_BYTES})


@pytest.mark.filterwarnings("ignore:Received multipart/form-data without base64 encoding")
@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ('{"name": "fox"}', "application/json", (200, None)),
        ('{"name": 7}', "application/json", (422, "INVALID_REQUEST")),
        (TOO_LARGE, "application/json", (413, "PAYLOAD_TOO_LARGE")),
        ("x" * (MAX_BYTES + 1), "text/plain", (413, "PAYLOAD_TOO_LARGE")),
        ("name=fox", "application/x-www-form-urlencoded", (415, "UNSUPPORTED_MEDIA_TYPE")),
        ("name=fox", "multipart/form-data", (415, "UNSUPPORTED_MEDIA_TYPE")),
        ("--b\r\n\r\n--b--", "multipart/form-data; boundary=b", (415, "UNSUPPORTED_MEDIA_TYPE")),
        ("name=fox", "text/plain", (415, "UNSUPPORTED_MEDIA_TYPE")),
        ('{"name": "a", "name": "b"}', "application/json", (400, "MALFORMED_JSON")),
        ("[" * 100_000, None, (413, "PAYLOAD_TOO_LARGE")),
        ("[" * 1000, None, (400, "MALFORMED_JSON")),
        ("{", "application/json", (400, "MALFORMED_JSON")),
    ],
)
def test_given_a_route_that_reads_a_body_when_posted_then_the_gate_answers_before_the_validation(
    body: str, content_type: str | None, expected: tuple[int, str | None]
) -> None:
    assert post("/things", body, content_type) == expected


def test_given_a_base64_body_that_is_not_utf8_when_posted_then_400() -> None:
    body = base64.b64encode(b"\xff\xfe{").decode()

    assert post("/things", body, b64=True) == (400, "MALFORMED_JSON")
    assert post("/things/abc/go", body, b64=True) == (400, "MALFORMED_JSON")


@pytest.mark.parametrize("thing_id", ["abc", "NOT-VALID"])
@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (TOO_LARGE, "application/json", (413, "PAYLOAD_TOO_LARGE")),
        ("name=fox", "multipart/form-data", (415, "UNSUPPORTED_MEDIA_TYPE")),
        ('{"a": 1, "a": 2}', "application/json", (400, "MALFORMED_JSON")),
    ],
)
def test_given_a_route_that_reads_no_body_when_a_bad_body_is_posted_then_the_gate_answers_even_over_a_bad_path(
    thing_id: str, body: str, content_type: str, expected: tuple[int, str]
) -> None:
    assert post(f"/things/{thing_id}/go", body, content_type) == expected


def test_given_a_route_that_reads_no_body_when_posted_without_one_then_only_the_validation_speaks() -> None:
    assert post("/things/abc/go", None) == (200, None)
    assert post("/things/NOT-VALID/go", None) == (422, "INVALID_REQUEST")
    assert post("/things/abc/go", "{}") == (200, None)
