"""What the local gateway makes of the proxy integration's answer, as API Gateway does: headers
merged, a default Content-Type, base64 bodies per the binary media types, and anything that is not
a proxy answer refused (the gateway then answers 502)."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.gateway import proxy_response


def test_given_an_answer_with_headers_and_multi_value_headers_when_sent_then_they_are_merged_as_api_gateway_does() -> (
    None
):
    # AWS: both maps are merged into one list; a pair given in both is sent once.
    response = proxy_response(
        {
            "statusCode": 201,
            "headers": {"X-One": "a", "X-Both": "same", "X-Kept": "header"},
            "multiValueHeaders": {"X-Both": ["same", "other"], "X-Kept": ["multi"], "Set-Cookie": ["a=1", "b=2"]},
            "body": "{}",
        }
    )

    assert response is not None
    assert response.status_code == 201
    assert response.headers.getlist("X-One") == ["a"]
    assert response.headers.getlist("X-Both") == ["same", "other"]
    assert response.headers.getlist("X-Kept") == ["header", "multi"]
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_given_an_answer_naming_no_content_type_when_sent_then_it_is_sent_as_json() -> None:
    plain = proxy_response({"statusCode": 200, "body": "{}"})
    named = proxy_response({"statusCode": 200, "headers": {"Content-Type": "text/csv"}, "body": "a,b"})

    assert plain is not None and named is not None
    assert plain.headers.getlist("Content-Type") == ["application/json"]
    assert named.headers.getlist("Content-Type") == ["text/csv"]


def test_given_a_status_code_as_a_string_of_digits_when_sent_then_it_is_the_status() -> None:
    response = proxy_response({"statusCode": "418", "body": "teapot"})

    assert response is not None
    assert response.status_code == 418


BASE64_ANSWER = {"statusCode": 200, "body": "AAH+/w==", "isBase64Encoded": True}


def test_given_no_binary_media_types_when_a_base64_answer_is_sent_then_the_client_gets_the_base64_text() -> None:
    response = proxy_response(BASE64_ANSWER, "image/png", ())

    assert response is not None
    assert response.get_data() == b"AAH+/w=="


@pytest.mark.parametrize(
    ("accept", "decoded"),
    [
        ("image/png", True),
        ("image/png, */*", True),
        ("IMAGE/PNG;q=0.9", True),
        ("*/*, image/png", False),
        (None, False),
    ],
)
def test_given_binary_media_types_when_a_base64_answer_is_sent_then_the_first_accepted_type_decides(
    accept: str | None, decoded: bool
) -> None:
    response = proxy_response(BASE64_ANSWER, accept, ("image/*",))

    assert response is not None
    assert response.get_data() == (b"\x00\x01\xfe\xff" if decoded else b"AAH+/w==")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "ok",
        {},
        {"statusCode": "OK"},
        {"statusCode": True},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["X-One", "a"]},
        {"statusCode": 200, "multiValueHeaders": {"X-One": "a"}},
        {"statusCode": 200, "multiValueHeaders": "X-One: a"},
    ],
)
def test_given_an_answer_that_is_not_a_proxy_answer_when_read_then_it_is_refused(payload: Any) -> None:
    assert proxy_response(payload) is None
