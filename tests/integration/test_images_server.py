"""The local Images API server, through the real `openai` SDK: streaming, the gpt-image-2 rules,
transparent backgrounds and compression. (Our adapter against it: test_openai_adapter.py.)"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from PIL import Image
from werkzeug.test import Client, TestResponse

from local_stack.images_server import (
    CONTENT_POLICY_MARKER,
    GPT_IMAGE_2,
    MODEL_FAMILIES,
    QUICK_SIZE,
    ImagesApp,
    ImagesServer,
    SizeRules,
    format_duration,
)
from local_stack.scene import read_traits

MODEL = "gpt-image-2"
SIZE = QUICK_SIZE
PROMPT = "Characters: Pip, a small fox.\nScene: Pip finds a lantern in the forest."
EDIT_PROMPT = "Use the reference image for character consistency.\nScene: Pip by the lake at night."


@pytest.fixture
def client(server: ImagesServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.api_url, api_key="sk-local", max_retries=0, timeout=30) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def reference(module_images_server: ImagesServer) -> bytes:
    """A slide-1 image to edit from."""
    with openai.OpenAI(base_url=module_images_server.api_url, api_key="sk-local", max_retries=0) as sdk:
        answer = sdk.images.generate(model=MODEL, prompt=PROMPT, size=SIZE, quality="low")
    assert answer.data and answer.data[0].b64_json
    return base64.b64decode(answer.data[0].b64_json)


def generate(client: openai.OpenAI, **overrides: Any) -> openai.types.ImagesResponse:
    arguments: dict[str, Any] = {"model": MODEL, "prompt": PROMPT, "size": SIZE, "quality": "low"} | overrides
    return client.images.generate(**arguments)


def edit(client: openai.OpenAI, reference: bytes, **overrides: Any) -> openai.types.ImagesResponse:
    arguments: dict[str, Any] = {
        "model": MODEL,
        "prompt": EDIT_PROMPT,
        "size": SIZE,
        "quality": "low",
        "image": [("reference.png", reference, "image/png")],
    } | overrides
    return client.images.edit(**arguments)


def only_image(answer: openai.types.ImagesResponse) -> bytes:
    assert answer.data is not None and len(answer.data) == 1 and answer.data[0].b64_json
    return base64.b64decode(answer.data[0].b64_json)


def decoded(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def refusal(call: Any) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as raised:
        call()
    return raised.value


def said(error: openai.BadRequestError) -> str:
    """The error's own message, as OpenAI wrote it (the SDK's `message` adds a prefix)."""
    assert isinstance(error.body, dict)
    message = error.body["message"]
    assert isinstance(message, str)
    return message


def post(server: ImagesServer, path: str, body: dict[str, Any]) -> tuple[int, str, bytes]:
    sent = urllib.request.Request(  # noqa: S310 (our loopback server)
        f"{server.url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-local"},
    )
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:  # noqa: S310 (our loopback server)
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


# -- streaming ---------------------------------------------------------------------------------


def test_given_stream_and_two_partial_images_when_generating_then_two_partials_then_the_completed_image(
    client: openai.OpenAI,
) -> None:
    events = list(generate(client, stream=True, partial_images=2))

    assert [event.type for event in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    partials, completed = events[:2], events[2]
    assert [p.partial_image_index for p in partials if p.type == "image_generation.partial_image"] == [0, 1]
    for event in events:
        assert (event.size, event.quality, event.background, event.output_format) == (SIZE, "low", "opaque", "png")
        assert isinstance(event.created_at, int)
        assert decoded(event.b64_json).size == (1024, 640)
    final = decoded(completed.b64_json)
    assert (final.format, final.size) == ("PNG", (1024, 640))
    assert len({event.b64_json for event in events}) == 3
    assert completed.type == "image_generation.completed"
    usage = completed.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.text_tokens > 0
    # The final image is the one the same request answers without streaming.
    assert base64.b64decode(completed.b64_json) == only_image(generate(client))


def test_given_stream_when_editing_then_one_image_edit_completed_event_carries_the_edited_image(
    client: openai.OpenAI, reference: bytes
) -> None:
    events = list(edit(client, reference, stream=True))

    [completed] = events
    assert completed.type == "image_edit.completed"
    assert (completed.size, completed.background, completed.output_format) == (SIZE, "opaque", "png")
    edited = base64.b64decode(completed.b64_json)
    assert decoded(completed.b64_json).size == (1024, 640)
    assert read_traits(edited) == read_traits(reference)
    assert completed.usage.input_tokens_details.image_tokens > 0


def test_given_stream_and_three_partial_images_when_editing_then_image_edit_partials_come_first(
    client: openai.OpenAI, reference: bytes
) -> None:
    events = list(edit(client, reference, stream=True, partial_images=3, output_format="webp"))

    assert [event.type for event in events] == ["image_edit.partial_image"] * 3 + ["image_edit.completed"]
    assert [e.partial_image_index for e in events if e.type == "image_edit.partial_image"] == [0, 1, 2]
    assert {decoded(event.b64_json).format for event in events} == {"WEBP"}
    assert base64.b64decode(events[-1].b64_json) == only_image(edit(client, reference, output_format="webp"))


def test_given_stream_and_two_images_when_generating_then_each_image_streams_its_partials_and_completion(
    client: openai.OpenAI,
) -> None:
    events = list(generate(client, stream=True, partial_images=1, n=2))

    assert [event.type for event in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ] * 2
    first, second = events[1], events[3]
    assert first.type == second.type == "image_generation.completed"
    assert first.b64_json != second.b64_json
    # The prompt's tokens count once, on the first image.
    assert first.usage.input_tokens > 0 and second.usage.input_tokens == 0


def test_given_stream_when_answered_then_the_wire_carries_event_and_data_lines_as_openai_sends_them(
    server: ImagesServer,
) -> None:
    body = {"model": MODEL, "prompt": PROMPT, "size": SIZE, "quality": "low", "stream": True, "partial_images": 1}

    status, content_type, raw = post(server, "/v1/images/generations", body)

    assert status == 200
    assert content_type.startswith("text/event-stream")
    frames = raw.decode().split("\n\n")
    assert frames[-1] == ""
    parsed = [dict(line.split(": ", 1) for line in frame.split("\n")) for frame in frames[:-1]]
    assert [frame["event"] for frame in parsed] == ["image_generation.partial_image", "image_generation.completed"]
    assert [json.loads(frame["data"])["type"] for frame in parsed] == [frame["event"] for frame in parsed]
    assert set(json.loads(parsed[1]["data"])) == {
        "type",
        "b64_json",
        "created_at",
        "size",
        "quality",
        "background",
        "output_format",
        "usage",
    }
    assert [r["status"] for r in server.requests()] == [200]


def test_given_a_rate_limit_rule_when_streaming_then_the_sdk_raises_before_any_event(
    server: ImagesServer, client: openai.OpenAI
) -> None:
    server.set_faults([{"kind": "rate_limit", "retryAfter": 3}])

    with pytest.raises(openai.RateLimitError):
        generate(client, stream=True, partial_images=2)

    assert [r["status"] for r in server.requests()] == [429]


# -- the 400 shape -----------------------------------------------------------------------------


def test_given_an_invalid_quality_when_generating_then_a_bad_request_error_in_openai_shape(
    client: openai.OpenAI,
) -> None:
    error = refusal(lambda: generate(client, quality="bogus"))

    assert (error.status_code, error.param, error.code, error.type) == (
        400,
        "quality",
        "invalid_value",
        "invalid_request_error",
    )
    assert isinstance(error.body, dict) and set(error.body) == {"message", "type", "param", "code"}
    assert error.body["message"] == "Invalid value: 'bogus'. Supported values are: 'low', 'medium', 'high', and 'auto'."


# -- size --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "made"),
    [
        ("auto", (1024, 1024)),
        ("1024x1024", (1024, 1024)),
        ("1536x1024", (1536, 1024)),
        ("1024x1536", (1024, 1536)),
        ("3840x2160", (3840, 2160)),  # the largest: longest edge 3840, 8,294,400 pixels
        ("2160x3840", (2160, 3840)),
        ("2880x2880", (2880, 2880)),  # exactly 8,294,400 pixels
        ("2448x816", (2448, 816)),  # exactly 3:1
        ("816x2448", (816, 2448)),
        ("1024x640", (1024, 640)),  # exactly 655,360 pixels
    ],
)
def test_given_a_size_gpt_image_2_takes_when_generating_then_the_image_has_that_size(
    client: openai.OpenAI, size: str, made: tuple[int, int]
) -> None:
    answer = generate(client, size=size, output_format="jpeg")

    with Image.open(io.BytesIO(only_image(answer))) as image:
        assert image.size == made
    assert answer.size == f"{made[0]}x{made[1]}"


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        ("3856x2160", "longest edge must be at most 3840px"),
        ("3840x2176", "no more than 8,294,400"),
        ("2896x2896", "no more than 8,294,400"),
        ("2464x816", "must not exceed 3:1"),
        ("1024x336", "must not exceed 3:1"),
        ("1000x1000", "divisible by 16"),
        ("1024x1000", "divisible by 16"),
        ("1008x336", "at least 655,360"),  # 3:1, but too few pixels
        ("1024x624", "at least 655,360"),
        ("256x256", "at least 655,360"),
        ("0x1024", "positive"),
        ("big", "Expected 'auto' or WIDTHxHEIGHT"),
        ("1024", "Expected 'auto' or WIDTHxHEIGHT"),
    ],
)
def test_given_a_size_gpt_image_2_refuses_when_generating_then_400_names_size_and_why(
    client: openai.OpenAI, size: str, reason: str
) -> None:
    error = refusal(lambda: generate(client, size=size))

    assert (error.param, error.code) == ("size", "invalid_value")
    assert reason in said(error)


# -- quality, background, output format, compression --------------------------------------------


@pytest.mark.parametrize(
    ("quality", "made"), [("low", "low"), ("medium", "medium"), ("high", "high"), ("auto", "medium")]
)
def test_given_a_quality_when_generating_then_the_answer_says_which_quality_was_made(
    client: openai.OpenAI, quality: str, made: str
) -> None:
    assert generate(client, quality=quality).quality == made


@pytest.mark.parametrize("quality", ["bogus", "xhigh", "max", "standard", "hd", ""])
def test_given_a_quality_gpt_image_2_does_not_offer_when_generating_then_400_names_quality(
    client: openai.OpenAI, quality: str
) -> None:
    assert refusal(lambda: generate(client, quality=quality)).param == "quality"


def test_given_a_gpt_image_2_5_model_when_asking_for_xhigh_quality_then_its_family_rules_allow_it(
    client: openai.OpenAI,
) -> None:
    assert generate(client, model="gpt-image-2.5-flare", quality="xhigh").quality == "xhigh"


@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
def test_given_an_output_format_when_generating_then_the_bytes_are_in_that_format(
    client: openai.OpenAI, output_format: str
) -> None:
    answer = generate(client, output_format=output_format)

    with Image.open(io.BytesIO(only_image(answer))) as image:
        assert image.format == output_format.upper()
    assert answer.output_format == output_format


@pytest.mark.parametrize("output_format", ["gif", "svg", "bmp"])
def test_given_an_output_format_gpt_image_2_does_not_offer_when_generating_then_400_names_it(
    client: openai.OpenAI, output_format: str
) -> None:
    error = refusal(lambda: generate(client, output_format=output_format))

    assert (error.param, error.code) == ("output_format", "invalid_value")


@pytest.mark.parametrize("background", ["auto", "opaque"])
def test_given_an_opaque_or_auto_background_when_generating_then_an_opaque_rgb_image(
    client: openai.OpenAI, background: str
) -> None:
    answer = generate(client, background=background)

    with Image.open(io.BytesIO(only_image(answer))) as image:
        assert image.mode == "RGB"
    assert answer.background == "opaque"


@pytest.mark.parametrize("output_format", ["png", "webp"])
def test_given_a_transparent_background_when_generating_then_the_backdrop_pixels_have_alpha_0(
    client: openai.OpenAI, output_format: str
) -> None:
    answer = generate(client, background="transparent", output_format=output_format)

    with Image.open(io.BytesIO(only_image(answer))) as image:
        assert (image.format, image.mode, image.size) == (output_format.upper(), "RGBA", (1024, 640))
        alpha = image.getchannel("A")
        corners = [(0, 0), (1023, 0), (0, 639), (1023, 639)]
        assert [alpha.getpixel(corner) for corner in corners] == [0, 0, 0, 0]
        # The character is drawn, opaque, and the backdrop is most of the picture.
        assert alpha.getextrema() == (0, 255)
        assert alpha.histogram()[0] > 0.8 * 1024 * 640
    assert (answer.background, answer.output_format) == ("transparent", output_format)


def test_given_a_transparent_background_twice_when_generating_then_the_bytes_are_identical(
    client: openai.OpenAI,
) -> None:
    first = only_image(generate(client, background="transparent"))

    assert only_image(generate(client, background="transparent")) == first


def test_given_a_transparent_background_and_jpeg_when_generating_then_400_names_background(
    client: openai.OpenAI,
) -> None:
    error = refusal(lambda: generate(client, background="transparent", output_format="jpeg"))

    assert (error.param, error.code) == ("background", "invalid_value")


def test_given_an_unknown_background_when_generating_then_400_names_background(client: openai.OpenAI) -> None:
    assert refusal(lambda: generate(client, background="white")).param == "background"


@pytest.mark.parametrize("output_format", ["jpeg", "webp"])
def test_given_a_lower_output_compression_when_generating_then_the_file_is_smaller(
    client: openai.OpenAI, output_format: str
) -> None:
    def sized(compression: int | None) -> bytes:
        extra = {} if compression is None else {"output_compression": compression}
        return only_image(generate(client, output_format=output_format, **extra))

    default, full, half, lowest = sized(None), sized(100), sized(50), sized(0)

    assert default == full  # OpenAI's default is 100
    assert len(lowest) < len(half) < len(full)
    with Image.open(io.BytesIO(lowest)) as image:
        assert (image.format, image.size) == (output_format.upper(), (1024, 640))


def test_given_png_and_output_compression_100_when_generating_then_it_is_accepted(client: openai.OpenAI) -> None:
    assert only_image(generate(client, output_compression=100)) == only_image(generate(client))


def test_given_png_and_output_compression_below_100_when_generating_then_refused_as_openai_refuses(
    client: openai.OpenAI,
) -> None:
    error = refusal(lambda: generate(client, output_format="png", output_compression=99))

    assert (error.code, error.param, error.type) == (
        "invalid_png_output_compression",
        None,
        "image_generation_user_error",
    )
    assert "Compression less than 100 is not supported for PNG output format" in said(error)


@pytest.mark.parametrize(
    ("compression", "code"),
    [(101, "integer_above_max_value"), (-1, "integer_below_min_value"), ("50", "invalid_type"), (50.5, "invalid_type")],
)
def test_given_an_output_compression_outside_0_to_100_when_generating_then_400_names_it(
    client: openai.OpenAI, compression: Any, code: str
) -> None:
    error = refusal(lambda: generate(client, output_format="jpeg", extra_body={"output_compression": compression}))

    assert (error.param, error.code) == ("output_compression", code)


# -- n, partial images, moderation, input fidelity ------------------------------------------------


def test_given_n_10_when_generating_then_ten_different_images(client: openai.OpenAI) -> None:
    answer = generate(client, n=10, output_format="jpeg", output_compression=20)

    assert answer.data is not None and len({image.b64_json for image in answer.data}) == 10


@pytest.mark.parametrize(("n", "code"), [(0, "integer_below_min_value"), (11, "integer_above_max_value")])
def test_given_n_outside_1_to_10_when_generating_then_400_names_n(client: openai.OpenAI, n: int, code: str) -> None:
    error = refusal(lambda: generate(client, n=n))

    assert (error.param, error.code) == ("n", code)


def test_given_n_2_as_a_form_field_when_editing_then_two_images(client: openai.OpenAI, reference: bytes) -> None:
    answer = edit(client, reference, n=2)

    assert answer.data is not None and len(answer.data) == 2


@pytest.mark.parametrize(("partial_images", "code"), [(4, "integer_above_max_value"), (-1, "integer_below_min_value")])
def test_given_partial_images_outside_0_to_3_when_streaming_then_400_names_partial_images(
    client: openai.OpenAI, partial_images: int, code: str
) -> None:
    error = refusal(lambda: generate(client, stream=True, partial_images=partial_images))

    assert (error.param, error.code) == ("partial_images", code)


def test_given_partial_images_without_stream_when_generating_then_400_names_partial_images(
    client: openai.OpenAI,
) -> None:
    error = refusal(lambda: generate(client, partial_images=2))

    assert (error.param, error.code) == ("partial_images", "invalid_value")
    assert generate(client, partial_images=0).data is not None


@pytest.mark.parametrize("moderation", ["low", "auto"])
def test_given_a_moderation_level_when_generating_then_it_is_accepted(client: openai.OpenAI, moderation: str) -> None:
    assert generate(client, moderation=moderation).data is not None


def test_given_an_unknown_moderation_level_when_generating_then_400_names_moderation(client: openai.OpenAI) -> None:
    assert refusal(lambda: generate(client, moderation="high")).param == "moderation"


@pytest.mark.parametrize("fidelity", ["high", "low"])
def test_given_input_fidelity_when_editing_with_gpt_image_2_then_refused_as_it_takes_none(
    client: openai.OpenAI, reference: bytes, fidelity: str
) -> None:
    error = refusal(lambda: edit(client, reference, input_fidelity=fidelity))

    assert (error.param, error.code) == ("input_fidelity", "invalid_input_fidelity_model")


# -- parameters the endpoint does not take --------------------------------------------------------


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_given_response_format_when_generating_with_a_gpt_image_model_then_400_unknown_parameter(
    client: openai.OpenAI, response_format: str
) -> None:
    error = refusal(lambda: generate(client, response_format=response_format))

    assert (error.param, error.code) == ("response_format", "unknown_parameter")
    assert said(error) == "Unknown parameter: 'response_format'."


def test_given_response_format_when_editing_then_400_unknown_parameter(client: openai.OpenAI, reference: bytes) -> None:
    error = refusal(lambda: edit(client, reference, response_format="url"))

    assert (error.param, error.code) == ("response_format", "unknown_parameter")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"seed": 7}, "seed"),
        ({"aspect_ratio": "16:9"}, "aspect_ratio"),
        ({"style": "vivid"}, "style"),
        ({"mask": None}, "mask"),
    ],
)
def test_given_a_parameter_generations_do_not_take_when_generating_then_400_unknown_parameter(
    client: openai.OpenAI, extra: dict[str, Any], param: str
) -> None:
    error = refusal(lambda: generate(client, extra_body=extra))

    assert (error.param, error.code, said(error)) == (param, "unknown_parameter", f"Unknown parameter: '{param}'.")


def test_given_moderation_when_editing_then_400_unknown_parameter(client: openai.OpenAI, reference: bytes) -> None:
    error = refusal(lambda: edit(client, reference, extra_body={"moderation": "low"}))

    assert (error.param, error.code) == ("moderation", "unknown_parameter")


def test_given_a_null_for_a_known_parameter_when_generating_then_it_counts_as_omitted(client: openai.OpenAI) -> None:
    answer = generate(client, quality=None, background=None, n=None, output_format=None)

    assert (answer.quality, answer.background, answer.output_format) == ("medium", "opaque", "png")


# -- model -------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-image-2-2026-04-21", "gpt-image-2.5-sunburst", "gpt-image-2.6-flare"])
def test_given_a_model_of_the_gpt_image_2_family_when_generating_then_it_is_served(
    client: openai.OpenAI, model: str
) -> None:
    assert generate(client, model=model).size == SIZE


@pytest.mark.parametrize("model", ["dall-e-3", "gpt-image-1", "gpt-image-3"])
def test_given_a_model_this_server_does_not_know_when_generating_then_400_names_model(
    client: openai.OpenAI, model: str
) -> None:
    error = refusal(lambda: generate(client, model=model))

    assert (error.param, error.code, said(error)) == (
        "model",
        "invalid_value",
        f"The model '{model}' does not exist.",
    )


def test_given_no_model_when_generating_then_400_missing_required_parameter(server: ImagesServer) -> None:
    status, _, raw = post(server, "/v1/images/generations", {"prompt": PROMPT})

    assert status == 400
    assert json.loads(raw)["error"] | {"message": None} == {
        "message": None,
        "type": "invalid_request_error",
        "param": "model",
        "code": "missing_required_parameter",
    }


def test_given_a_family_added_to_the_table_when_served_then_its_rules_apply(reference: bytes) -> None:
    listed = dataclasses.replace(
        GPT_IMAGE_2,
        name="gpt-image-1.5",
        models=r"gpt-image-1\.5",
        sizes=SizeRules(listed=("1024x1024", "1536x1024", "1024x1536")),
        input_fidelities=("high", "low"),
    )
    running = ImagesServer(app=ImagesApp(families=(*MODEL_FAMILIES, listed))).start()
    try:
        with openai.OpenAI(base_url=running.api_url, api_key="sk-local", max_retries=0) as sdk:
            assert edit(sdk, reference, model="gpt-image-1.5", size="1536x1024", input_fidelity="high").size == (
                "1536x1024"
            )
            assert refusal(lambda: generate(sdk, model="gpt-image-1.5", size=SIZE)).param == "size"
    finally:
        running.stop()


# -- edits: mask and markup ---------------------------------------------------------------------


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def test_given_a_mask_the_size_of_the_image_when_editing_then_it_is_accepted(
    client: openai.OpenAI, reference: bytes
) -> None:
    answer = edit(client, reference, mask=("mask.png", png((1024, 640)), "image/png"))

    assert answer.size == SIZE


def test_given_a_mask_of_another_size_when_editing_then_400_names_mask(client: openai.OpenAI, reference: bytes) -> None:
    error = refusal(lambda: edit(client, reference, mask=("mask.png", png((64, 64)), "image/png")))

    assert error.param == "mask"


def test_given_markup_when_editing_with_gpt_image_2_then_400_names_markup(
    client: openai.OpenAI, reference: bytes
) -> None:
    error = refusal(lambda: edit(client, reference, markup=("markup.png", png((1024, 640)), "image/png")))

    assert error.param == "markup"


def body(prompt: str) -> dict[str, Any]:
    return {"model": MODEL, "prompt": prompt, "size": SIZE, "quality": "low"}


def test_given_a_rule_with_a_probability_when_many_requests_come_then_about_that_share_fails_repeatably(
    server: ImagesServer,
) -> None:
    # Given a server error on 30% of requests, seeded
    outcomes = []
    for _ in range(2):
        server.reset()
        server.set_faults([{"kind": "server_error", "probability": 0.3}], seed=7)
        # When 100 requests come
        statuses = [post(server, "/v1/images/generations", body(f"a fox, take {n}"))[0] for n in range(100)]
        outcomes.append(statuses)

    # Then about 30% failed, the same ones each time
    failed = sum(status == 500 for status in outcomes[0])
    assert 15 <= failed <= 45
    assert outcomes[0] == outcomes[1]


def test_given_a_slow_rule_when_a_request_is_held_then_the_log_says_how_long(server: ImagesServer) -> None:
    server.set_faults([{"kind": "slow", "seconds": 0.2, "times": 1}])

    post(server, "/v1/images/generations", body("a fox"))
    post(server, "/v1/images/generations", body("an owl"))

    held = [entry["heldSeconds"] for entry in server.requests()]
    assert held[0] >= 0.2 and held[1] == 0.0


# -- the images-per-minute limit ------------------------------------------------------------------


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call_app(app: ImagesApp, prompt: str = "a fox", **extra: Any) -> TestResponse:
    """One generation straight through the WSGI app (no sockets), as the SDK would send it."""
    return Client(app).post(
        "/v1/images/generations", json=body(prompt) | extra, headers={"Authorization": "Bearer sk-local"}
    )


def limited_app(images_per_minute: float, burst: int | None = None) -> tuple[ImagesApp, ManualClock]:
    clock = ManualClock()
    app = ImagesApp(monotonic=clock)
    app.set_limits(images_per_minute, burst)
    return app, clock


def test_given_a_limit_when_the_bucket_runs_dry_then_429_in_openai_shape_with_retry_after_and_ratelimit_headers() -> (
    None
):
    # Given 6 images a minute (one every 10 s) and a bucket of 2, on a clock that only the test moves
    app, clock = limited_app(6, burst=2)

    # When two requests take the bucket's two tokens, and a third comes 4 s later
    first, second = call_app(app), call_app(app)
    clock.now += 4
    third = call_app(app)

    # Then the first two are answered, each saying what is left and when the bucket is full again
    assert (first.status_code, second.status_code) == (200, 200)
    assert {name: first.headers[name] for name in ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests")} == {
        "x-ratelimit-limit-requests": "6",
        "x-ratelimit-remaining-requests": "1",
    }
    assert first.headers["x-ratelimit-reset-requests"] == "10s"
    assert (second.headers["x-ratelimit-remaining-requests"], second.headers["x-ratelimit-reset-requests"]) == (
        "0",
        "20s",
    )
    # And the third, with 0.4 of a token back, is refused as OpenAI refuses: 6 s to go
    assert third.status_code == 429
    assert third.get_json() == {
        "error": {
            "message": "Rate limit reached for gpt-image-2 in organization org-local on images per minute (IPM): "
            "Limit 6, Used 2, Requested 1. Please try again in 6s. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert {name: third.headers[name] for name in ("retry-after", "retry-after-ms")} == {
        "retry-after": "6",
        "retry-after-ms": "6000",
    }
    assert (third.headers["x-ratelimit-remaining-requests"], third.headers["x-ratelimit-reset-requests"]) == (
        "0",
        "16s",
    )
    assert [entry["status"] for entry in app.requests()] == [200, 200, 429]
    assert app.limits() == {"imagesPerMinute": 6.0, "burst": 2.0, "tokens": 0.4, "rateLimited": 1}


def test_given_a_dry_bucket_when_time_passes_then_it_refills_continuously_and_admits_again() -> None:
    # Given 60 images a minute, a bucket of 1, just emptied
    app, clock = limited_app(60, burst=1)
    assert call_app(app).status_code == 200

    # When 0.75 s pass, then another 0.25 s
    clock.now += 0.75
    early = call_app(app)
    clock.now += 0.25
    due = call_app(app)

    # Then the early request waits out the last quarter (retry-after rounds up to whole seconds), the due one is made
    assert early.status_code == 429
    assert (early.headers["retry-after"], early.headers["retry-after-ms"]) == ("1", "250")
    assert "Please try again in 250ms." in early.get_json()["error"]["message"]
    assert due.status_code == 200
    assert app.limits()["rateLimited"] == 1


def test_given_n_images_when_admitted_then_they_take_n_tokens_and_more_than_the_bucket_holds_is_refused() -> None:
    # Given a bucket of 3 at 3 images a minute (the default burst: a minute's worth)
    app, _ = limited_app(3)
    assert app.limits()["burst"] == 3.0

    # When two images are asked for at once, then two more, then four
    two = call_app(app, n=2)
    two_more = call_app(app, n=2)
    four = call_app(app, n=4)

    # Then the first takes two tokens; the second is short by one (20 s at 3 a minute); four can never fit
    assert (two.status_code, two.headers["x-ratelimit-remaining-requests"]) == (200, "1")
    assert two_more.status_code == 429
    assert "Used 2, Requested 2. Please try again in 20s." in two_more.get_json()["error"]["message"]
    assert four.status_code == 429
    assert four.get_json()["error"]["message"].startswith(
        "Request too large for gpt-image-2 in organization org-local on images per minute (IPM): Limit 3, Requested 4."
    )
    assert "retry-after" not in four.headers and "retry-after-ms" not in four.headers


def test_given_a_limit_when_a_request_fails_auth_or_validation_then_it_takes_no_token_but_a_refusal_does() -> None:
    # Given a bucket of 1
    app, _ = limited_app(1, burst=1)

    # When a request without a key and an invalid one come, then a prompt the safety system refuses
    unauthorized = Client(app).post("/v1/images/generations", json=body("a fox"))
    invalid = call_app(app, quality="bogus")
    refused = call_app(app, f"a fox {CONTENT_POLICY_MARKER}")

    # Then the first two leave the token for the third, which uses it up
    assert (unauthorized.status_code, invalid.status_code, refused.status_code) == (401, 400, 400)
    assert unauthorized.headers["x-ratelimit-remaining-requests"] == "1"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert call_app(app).status_code == 429


def test_given_a_rate_limit_fault_rule_and_a_limit_when_the_rule_fires_then_it_takes_no_token() -> None:
    # Given a bucket of 1 and a rule answering 429 once
    app, _ = limited_app(1, burst=1)
    app.set_faults([{"kind": "rate_limit", "times": 1}])

    # When two requests come
    statuses = [call_app(app).status_code, call_app(app).status_code]

    # Then the rule's 429 leaves the token for the second; the limiter counted none of its own
    assert statuses == [429, 200]
    assert app.limits()["rateLimited"] == 0


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (0, "0s"),
        (0.0004, "1ms"),
        (0.25, "250ms"),
        (0.9999, "1s"),
        (1.5, "1.5s"),
        (12, "12s"),
        (63, "1m3s"),
        (360, "6m0s"),
        (3600.25, "1h0m0.25s"),
    ],
)
def test_given_a_duration_when_written_for_a_ratelimit_header_then_it_reads_as_openai_writes_it(
    seconds: float, written: str
) -> None:
    # OpenAI's rate-limit guide shows `x-ratelimit-reset-requests: 1s` and `x-ratelimit-reset-tokens: 6m0s`
    assert format_duration(seconds) == written


def test_given_limits_set_over_http_when_read_back_then_they_apply_and_a_reset_lifts_them(
    server: ImagesServer,
) -> None:
    # Given a limit set through the control API
    status, _, raw = post(server, "/_control/limits", {"imagesPerMinute": 1, "burst": 1})
    assert (status, json.loads(raw)) == (
        200,
        {"imagesPerMinute": 1.0, "burst": 1.0, "tokens": 1.0, "rateLimited": 0},
    )

    # When two images are asked for
    statuses = [post(server, "/v1/images/generations", body("a fox"))[0] for _ in range(2)]

    # Then the second is refused, the control API counts it, and a reset lifts the limit
    assert statuses == [200, 429]
    with urllib.request.urlopen(f"{server.url}/_control/limits", timeout=5) as answer:  # noqa: S310 (loopback)
        assert json.loads(answer.read())["rateLimited"] == 1
    server.reset()
    assert server.limits() == {"imagesPerMinute": None, "burst": None, "tokens": None, "rateLimited": 0}
    assert post(server, "/v1/images/generations", body("a fox"))[0] == 200


@pytest.mark.parametrize(
    "limits",
    [{"imagesPerMinute": 0}, {"imagesPerMinute": -1}, {"imagesPerMinute": 5, "burst": 0}, {"burst": 2}, {"ipm": 5}],
)
def test_given_invalid_limits_when_set_over_http_then_400_names_the_reason(
    server: ImagesServer, limits: dict[str, Any]
) -> None:
    status, _, raw = post(server, "/_control/limits", limits)

    assert status == 400
    assert json.loads(raw)["error"]["message"]
    assert server.limits()["imagesPerMinute"] is None


def test_given_a_small_limit_when_the_sdk_calls_without_retries_then_rate_limit_error_carries_retry_after(
    server: ImagesServer, client: openai.OpenAI
) -> None:
    # Given one image a minute, and an SDK client that does not retry
    server.set_limits(1)
    generate(client)

    # When the SDK asks again
    with pytest.raises(openai.RateLimitError) as raised:
        generate(client)

    # Then it raises RateLimitError with OpenAI's code and the headers a caller backs off by
    error = raised.value
    assert (error.status_code, error.code, error.type) == (429, "rate_limit_exceeded", "requests")
    headers = error.response.headers
    assert 55 <= int(headers["retry-after"]) <= 60
    assert 0 < float(headers["retry-after-ms"]) <= 60_000
    assert headers["x-ratelimit-limit-requests"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert [r["status"] for r in server.requests()] == [200, 429]


def test_given_a_quick_refill_when_the_sdk_may_retry_then_it_waits_out_retry_after_and_the_image_comes_back(
    server: ImagesServer,
) -> None:
    # Given a bucket of one image refilled in a second, just emptied
    server.set_limits(60, burst=1)
    with openai.OpenAI(base_url=server.api_url, api_key="sk-local", max_retries=2, timeout=30) as sdk:
        generate(sdk)

        # When the SDK, allowed two retries, asks again at once
        answer = generate(sdk)

    # Then its first try was refused and its retry, after the wait the 429 asked for, made the image
    assert only_image(answer).startswith(b"\x89PNG")
    assert [r["status"] for r in server.requests()] == [200, 429, 200]
    assert server.limits()["rateLimited"] == 1


# -- latency ----------------------------------------------------------------------------------


def test_given_a_latency_when_twenty_images_are_made_then_the_holds_follow_it_within_the_cap_repeatably(
    server: ImagesServer,
) -> None:
    runs = []
    for _ in range(2):
        # Given a median of 50 ms, sigma 0.5, capped at 100 ms, seeded
        server.reset()
        server.set_latency(0.05, spread=0.5, cap_seconds=0.1, seed=0)
        # When twenty images are made one after another
        statuses = [post(server, "/v1/images/generations", body(f"a fox, take {n}"))[0] for n in range(20)]
        assert statuses == [200] * 20
        runs.append(server.requests())

    # Then each was held for its draw, none drawn above the cap, the draws' median near 50 ms
    drawn = [entry["latencySeconds"] for entry in runs[0]]
    assert all(0 < latency <= 0.1 for latency in drawn)
    assert drawn.count(0.1) >= 1  # the long tail reaches the cap
    assert 0.04 <= statistics.median(drawn) <= 0.06
    held = [entry["heldSeconds"] for entry in runs[0]]
    assert all(seconds >= latency - 0.001 for seconds, latency in zip(held, drawn, strict=True))
    assert 0.04 <= statistics.median(held) <= 0.1
    # And the same seed draws the same latencies
    assert [entry["latencySeconds"] for entry in runs[1]] == drawn


def test_given_a_latency_and_a_slow_rule_when_an_image_is_made_then_both_hold_it(server: ImagesServer) -> None:
    # Given a fixed latency (no spread) and a slow rule
    server.set_latency(0.1, spread=0)
    server.set_faults([{"kind": "slow", "seconds": 0.1}])

    # When an image is made
    assert post(server, "/v1/images/generations", body("a fox"))[0] == 200

    # Then the log says it drew 0.1 s and was held for the rule's 0.1 s on top
    [entry] = server.requests()
    assert entry["latencySeconds"] == pytest.approx(0.1)
    assert entry["heldSeconds"] >= 0.2 - 0.002


def test_given_a_long_latency_when_held_requests_are_released_then_the_request_is_answered_at_once(
    server: ImagesServer,
) -> None:
    # Given a latency of a minute
    server.set_latency(60, spread=0)
    answered: list[int] = []
    request = threading.Thread(target=lambda: answered.append(post(server, "/v1/images/generations", body("a fox"))[0]))
    request.start()
    deadline = time.monotonic() + 10
    while server.holding() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    # When the held requests are released
    assert server.holding() == 1
    server.release_held_requests()
    request.join(timeout=10)

    # Then it is answered, and the log has the minute it drew and the little it was held
    assert answered == [200]
    [entry] = server.requests()
    assert entry["latencySeconds"] == 60
    assert entry["heldSeconds"] < 30
    assert server.holding() == 0


def test_given_a_latency_when_a_request_is_refused_then_none_is_drawn(server: ImagesServer) -> None:
    # Given a latency and a bucket of two images
    server.set_latency(0.05, seed=3)
    server.set_limits(2, burst=2)

    # When an invalid request, a prompt the safety system refuses, an image and one over the limit come
    post(server, "/v1/images/generations", body("a fox") | {"quality": "bogus"})
    post(server, "/v1/images/generations", body(f"a fox {CONTENT_POLICY_MARKER}"))
    post(server, "/v1/images/generations", body("a fox"))
    post(server, "/v1/images/generations", body("an owl"))

    # Then only the image drew a latency (the refusal used a token, and answered at once)
    assert [(r["status"], r["latencySeconds"] > 0) for r in server.requests()] == [
        (400, False),
        (400, False),
        (200, True),
        (429, False),
    ]


def test_given_a_latency_set_over_http_when_read_back_then_it_is_what_was_sent(server: ImagesServer) -> None:
    # Given a latency sent to the control API
    status, _, raw = post(server, "/_control/latency", {"medianSeconds": 0.05, "spread": 0.25, "capSeconds": 0.2})

    # Then it is in force, with the default seed, until a null lifts it
    assert (status, json.loads(raw)) == (
        200,
        {"medianSeconds": 0.05, "spread": 0.25, "capSeconds": 0.2, "seed": 0},
    )
    assert server.latency() == json.loads(raw)
    assert post(server, "/_control/latency", {"medianSeconds": None})[0] == 200
    assert server.latency()["medianSeconds"] is None
    for invalid in ({"medianSeconds": 0}, {"medianSeconds": 1, "spread": -1}, {"median": 1}):
        assert post(server, "/_control/latency", invalid)[0] == 400
