"""Our OpenAI adapter, through the real `openai` SDK, against the local Images API server."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.request
from typing import Any

import httpx2
import openai
import pytest
from PIL import Image

from local_stack.images_server import CONTENT_POLICY_MARKER, QUICK_SIZE, ImagesServer
from local_stack.scene import read_traits
from storyimages.adapters.openai_images import OpenAIImageGenerator, _translate
from storyimages.domain.errors import (
    ImageRateLimited,
    ImageRejected,
    ImageServiceUnavailable,
    ImageTimedOut,
)
from storyimages.domain.jobs import ImageSpec
from storyimages.domain.ports import ImageRequest
from storyimages.settings import OpenAISettings

# The smallest 16:10 size gpt-image-2 takes (655,360 pixels); non-square, so a swapped width and height shows.
SPEC = ImageSpec(model="gpt-image-2", size=QUICK_SIZE, quality="low")
SLIDE_1 = "Characters: Pip, a small fox.\nScene: Pip finds a lantern in the forest."
SLIDE_2 = "Use the reference image for character consistency.\nScene: An owl by the lake at night."


def adapter(server: ImagesServer, *, timeout: float = 10.0) -> OpenAIImageGenerator:
    settings = OpenAISettings.model_validate(
        {
            "OPENAI_API_KEY": "sk-local",
            "OPENAI_BASE_URL": f"{server.url}/v1",
            "OPENAI_TIMEOUT_SECONDS": timeout,
        }
    )
    return OpenAIImageGenerator(settings)


def request(prompt: str = SLIDE_1, *, spec: ImageSpec = SPEC, reference: bytes | None = None) -> ImageRequest:
    return ImageRequest(prompt=prompt, spec=spec, reference=reference)


def http(server: ImagesServer, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(  # noqa: S310 (our loopback server)
        f"{server.url}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(sent, timeout=5) as response:  # noqa: S310 (our loopback server)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_given_a_prompt_when_generated_then_a_png_of_the_requested_size_comes_back(
    server: ImagesServer,
) -> None:
    image = adapter(server).generate(request())

    with Image.open(io.BytesIO(image.data)) as png:
        assert (png.format, png.size) == ("PNG", (1024, 640))
    assert image.model == "gpt-image-2"
    [logged] = server.requests()
    assert logged | {"at": None} == {
        "endpoint": "generations",
        "model": "gpt-image-2",
        "prompt": SLIDE_1,
        "size": "1024x640",
        "quality": "low",
        "n": 1,
        "referenceSha256": [],
        "status": 200,
        "at": None,
        "heldSeconds": 0.0,
        "latencySeconds": 0.0,
    }


def test_given_the_same_prompt_when_generated_twice_then_the_bytes_are_identical(
    server: ImagesServer,
) -> None:
    generator = adapter(server)

    assert generator.generate(request()).data == generator.generate(request()).data


def test_given_a_reference_when_generated_then_it_is_sent_and_its_traits_carry_over(
    server: ImagesServer,
) -> None:
    generator = adapter(server)
    reference = generator.generate(request(SLIDE_1)).data

    image = generator.generate(request(SLIDE_2, reference=reference))

    edit = server.requests()[-1]
    assert edit["endpoint"] == "edits"
    assert edit["referenceSha256"] == [hashlib.sha256(reference).hexdigest()]
    assert edit["status"] == 200
    assert read_traits(image.data) == read_traits(reference)
    assert read_traits(generator.generate(request(SLIDE_2)).data) != read_traits(reference)


def test_given_a_rate_limit_when_generating_then_image_rate_limited_names_the_retry_after(
    server: ImagesServer,
) -> None:
    server.set_faults([{"kind": "rate_limit", "retryAfter": 7}])

    with pytest.raises(ImageRateLimited, match=r"retry after 7s") as raised:
        adapter(server).generate(request())

    assert "rate_limit_exceeded" in str(raised.value)
    assert raised.value.retry_after_seconds == 7
    assert [r["status"] for r in server.requests()] == [429]


def test_given_the_images_per_minute_limit_when_it_runs_dry_then_image_rate_limited_says_how_long_to_wait(
    server: ImagesServer,
) -> None:
    # Given one image a minute, already made
    server.set_limits(1, burst=1)
    generator = adapter(server)
    generator.generate(request())

    # When the next slide asks at once
    with pytest.raises(ImageRateLimited, match=r"images per minute \(IPM\): Limit 1, Used 1, Requested 1") as raised:
        generator.generate(request(SLIDE_2))

    # Then the error carries the wait the 429 asked for
    retry_after = raised.value.retry_after_seconds
    assert retry_after is not None and 50 < retry_after <= 60
    assert [r["status"] for r in server.requests()] == [200, 429]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_given_a_429_with_these_headers_when_translated_then_retry_after_seconds_is_what_they_say(
    headers: dict[str, str], seconds: float | None
) -> None:
    # Given a 429 as the SDK raises it
    response = httpx2.Response(
        429,
        headers=headers,
        json={"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
        request=httpx2.Request("POST", "http://images.local/v1/images/generations"),
    )
    error = openai.RateLimitError("slow down", response=response, body=response.json()["error"])

    # When our adapter translates it
    translated = _translate(error, timeout_seconds=10)

    # Then it is ImageRateLimited with the wait the headers ask for, or None
    assert isinstance(translated, ImageRateLimited)
    assert translated.retry_after_seconds == seconds


def test_given_a_server_error_when_generating_then_image_service_unavailable(server: ImagesServer) -> None:
    server.set_faults([{"kind": "server_error"}])

    with pytest.raises(ImageServiceUnavailable):
        adapter(server).generate(request())


def test_given_the_content_policy_marker_when_generating_then_image_rejected(server: ImagesServer) -> None:
    with pytest.raises(ImageRejected, match="content_policy_violation"):
        adapter(server).generate(request(f"Scene: something {CONTENT_POLICY_MARKER}"))

    assert [r["status"] for r in server.requests()] == [400]


def test_given_a_reject_rule_when_editing_then_image_rejected(server: ImagesServer) -> None:
    reference = adapter(server).generate(request()).data
    server.set_faults([{"kind": "reject", "match": "owl"}])

    with pytest.raises(ImageRejected, match="content_policy_violation"):
        adapter(server).generate(request(SLIDE_2, reference=reference))


def test_given_an_answer_slower_than_the_timeout_when_generating_then_image_timed_out_not_unavailable(
    server: ImagesServer,
) -> None:
    # The provider may still finish (and bill) a request we gave up on: a timeout is its own
    # error, which the workflow does not retry, so one hang costs at most one image.
    server.set_faults([{"kind": "slow", "seconds": 60.0}])

    with pytest.raises(ImageTimedOut, match=r"did not answer within 0\.3 s"):
        adapter(server, timeout=0.3).generate(request())

    # The client gave up while the provider still held the request (not once it answered).
    assert server.holding() == 1
    server.release_held_requests()


def test_given_a_short_delay_when_generating_then_the_image_still_comes_back(server: ImagesServer) -> None:
    server.set_faults([{"kind": "slow", "seconds": 0.05, "times": 1}, {"kind": "server_error", "match": "nomatch"}])

    image = adapter(server).generate(request())

    assert image.data.startswith(b"\x89PNG")
    assert server.faults()[0]["times"] == 0


def test_given_an_unknown_model_when_generating_then_image_rejected(server: ImagesServer) -> None:
    spec = ImageSpec(model="dall-e-3", size="1024x640", quality="low")

    with pytest.raises(ImageRejected, match=r"invalid_value: .*'dall-e-3'"):
        adapter(server).generate(request(spec=spec))


def test_given_a_rule_for_one_time_when_generating_twice_then_only_the_first_call_fails(
    server: ImagesServer,
) -> None:
    server.set_faults([{"kind": "server_error", "times": 1}])
    generator = adapter(server)

    with pytest.raises(ImageServiceUnavailable):
        generator.generate(request())
    image = generator.generate(request())

    assert image.data.startswith(b"\x89PNG")
    assert [r["status"] for r in server.requests()] == [500, 200]


def test_given_a_rule_matching_one_prompt_when_generating_others_then_they_succeed(
    server: ImagesServer,
) -> None:
    server.set_faults([{"kind": "server_error", "match": "Scene: Pip finds"}])
    generator = adapter(server)

    with pytest.raises(ImageServiceUnavailable):
        generator.generate(request(SLIDE_1))
    assert generator.generate(request("Scene: Pip goes home.")).data.startswith(b"\x89PNG")


def test_given_faults_set_over_http_when_generating_then_they_apply_and_the_log_is_served(
    server: ImagesServer,
) -> None:
    status, body = http(server, "POST", "/_control/faults", {"faults": [{"kind": "rate_limit", "times": 1}]})
    assert (status, body["faults"]) == (
        200,
        [{"kind": "rate_limit", "match": None, "times": 1, "retryAfter": 1.0}],
    )

    with pytest.raises(ImageRateLimited):
        adapter(server).generate(request())
    status, log = http(server, "GET", "/_control/requests")

    assert status == 200
    assert [(r["endpoint"], r["status"]) for r in log] == [("generations", 429)]
    assert http(server, "POST", "/_control/reset", {})[0] == 200
    assert server.requests() == []


def test_given_an_invalid_fault_rule_when_set_then_it_is_refused_with_the_reason(
    server: ImagesServer,
) -> None:
    status, body = http(server, "POST", "/_control/faults", {"faults": [{"kind": "rate_limit", "retry_after": 3}]})

    assert status == 400
    assert "retry_after" in body["error"]["message"]
    with pytest.raises(ValueError, match="fault kind"):
        server.set_faults([{"kind": "explode"}])


def test_given_no_bearer_token_when_calling_then_401_in_openai_shape(server: ImagesServer) -> None:
    status, body = http(server, "POST", "/v1/images/generations", {"model": "gpt-image-2", "prompt": "x"})

    assert status == 401
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert server.requests()[0]["status"] == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("/v1/images/generations", {"model": "gpt-image-2"}, 400, "prompt"),
        ("/v1/images/generations", {"model": "gpt-image-2", "prompt": " "}, 400, "prompt"),
        ("/v1/images/generations", {"model": "gpt-image-2", "prompt": "x", "size": "10x10"}, 400, "size"),
        ("/v1/images/generations", {"model": "gpt-image-2", "prompt": "x", "size": "big"}, 400, "size"),
        ("/v1/images/edits", {"model": "gpt-image-2", "prompt": "x"}, 400, "image"),
        ("/v1/images/variations", {"model": "gpt-image-2", "prompt": "x"}, 404, None),
    ],
)
def test_given_a_malformed_request_when_calling_then_an_openai_error_names_the_parameter(
    server: ImagesServer, path: str, body: dict[str, Any], status: int, param: str | None
) -> None:
    answered, error = http(server, "POST", path, body, Authorization="Bearer sk-local")

    assert (answered, error["error"]["param"]) == (status, param)
    assert error["error"]["type"] == "invalid_request_error"


def test_given_a_reference_that_is_not_an_image_when_editing_then_image_rejected(
    server: ImagesServer,
) -> None:
    with pytest.raises(ImageRejected, match="invalid_image_format"):
        adapter(server).generate(request(reference=b"not an image"))

    assert server.requests()[0]["referenceSha256"] == [hashlib.sha256(b"not an image").hexdigest()]
