"""The local Images API server, through the real `openai` SDK: streaming, the gpt-image-2 rules,
transparent backgrounds and compression. (Our adapter against it: test_openai_adapter.py.)"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from PIL import Image

from local_stack.images_server import (
    GPT_IMAGE_2,
    MODEL_FAMILIES,
    QUICK_SIZE,
    ImagesApp,
    ImagesServer,
    SizeRules,
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
