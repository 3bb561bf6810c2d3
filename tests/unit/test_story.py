from __future__ import annotations

import pytest

from storyimages.domain.errors import InvalidStory, TooManySlides
from storyimages.domain.story import REFERENCE_INSTRUCTION, Story, image_prompt
from tests.stories import story_document


def test_given_a_valid_story_when_validated_then_slides_keep_reading_order_and_unknown_fields_are_ignored() -> None:
    story = Story.from_document("s1", story_document(3, appField={"x": 1}), max_slides=10)

    assert [slide.scene for slide in story.slides] == [
        "Juniper in scene 1",
        "Juniper in scene 2",
        "Juniper in scene 3",
    ]
    assert story.owner_id == "user-1"


def test_given_a_slide_without_image_prompt_when_prompted_then_its_text_is_the_scene() -> None:
    story = Story.from_document("s1", {"ownerId": "u", "slides": [{"text": "A fox naps."}]}, max_slides=10)

    assert story.slide_prompt(1).endswith("Scene: A fox naps.\nNo text or lettering in the image.")


def test_given_story_context_when_prompted_then_every_slide_carries_title_style_and_characters() -> None:
    story = Story.from_document("s1", story_document(2), max_slides=10)

    prompt = story.slide_prompt(2)

    assert 'slide 2 of 2 of a story titled "The Fox and the Lantern"' in prompt
    assert "Art style: watercolour." in prompt
    assert "Characters: Juniper, a small orange fox." in prompt
    assert "Scene: Juniper in scene 2" in prompt


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"slides": [{"text": "x"}]}, "ownerId"),
        ({"ownerId": "u", "slides": []}, "slides"),
        ({"ownerId": "u"}, "slides"),
        ({"ownerId": "u", "slides": [{"text": "  "}]}, "slides.0"),
        ({"ownerId": "u", "slides": [{"text": 5}]}, "slides.0.text"),
        ({"ownerId": "u", "slides": "not a list"}, "slides"),
    ],
)
def test_given_a_story_outside_the_schema_when_validated_then_the_error_names_the_field(
    document: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidStory) as caught:
        Story.from_document("s1", document, max_slides=10)

    assert caught.value.code == "INVALID_STORY"
    assert field in [problem["field"] for problem in caught.value.details]


def test_given_more_slides_than_allowed_when_validated_then_too_many_slides() -> None:
    with pytest.raises(TooManySlides) as caught:
        Story.from_document("s1", story_document(4), max_slides=3)

    assert caught.value.details == {"slides": 4, "maxSlides": 3}


def test_given_a_reference_when_the_image_prompt_is_built_then_it_asks_to_keep_the_characters() -> None:
    assert image_prompt("Scene: x", with_reference=True) == f"{REFERENCE_INSTRUCTION}\nScene: x"
    assert image_prompt("Scene: x", with_reference=False) == "Scene: x"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"ownerId": "u", "slides": [{"text": b"A fox naps."}]}, "slides.0.text"),
        ({"ownerId": "u", "slides": [{"text": "x", "imagePrompt": b"A fox naps."}]}, "slides.0.imagePrompt"),
        ({"ownerId": "u", "slides": [{"text": bytearray(b"A fox naps.")}]}, "slides.0.text"),
        ({"ownerId": b"u", "slides": [{"text": "x"}]}, "ownerId"),
        ({"ownerId": "u", "title": b"The Fox", "slides": [{"text": "x"}]}, "title"),
        ({"ownerId": "u", "style": b"watercolour", "slides": [{"text": "x"}]}, "style"),
        ({"ownerId": "u", "characters": b"Juniper", "slides": [{"text": "x"}]}, "characters"),
    ],
)
def test_given_a_field_stored_as_bytes_when_validated_then_invalid_story_names_it(
    document: dict[str, object], field: str
) -> None:
    # Given a story whose field Firestore holds as bytes (a Blob), not as a string

    # When it is validated
    with pytest.raises(InvalidStory) as caught:
        Story.from_document("s1", document, max_slides=10)

    # Then it is refused, naming the field and saying a string was expected
    assert caught.value.code == "INVALID_STORY"
    problems = {problem["field"]: problem["problem"] for problem in caught.value.details}
    assert problems[field] == "Input should be a valid string"
