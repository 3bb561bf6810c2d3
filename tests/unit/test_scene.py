"""The local image server's renderer: deterministic pictures whose traits follow a reference."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from local_stack.scene import (
    TRAITS_CHUNK,
    Character,
    Palette,
    Traits,
    caption_for,
    character_kind,
    fit_text,
    read_traits,
    render_png,
    render_scene,
    traits_from_references,
)

SLIDE_1 = (
    'Illustration for slide 1 of 3 of a story titled "Pip and the Lantern".\n'
    "Characters: Pip, a small fox.\n"
    "Scene: Pip walks through the forest at night holding a lantern.\n"
    "No text or lettering in the image."
)
SLIDE_2 = (
    "Use the reference image for character consistency.\n"
    'Illustration for slide 2 of 3 of a story titled "Pip and the Lantern".\n'
    "Scene: An owl waits by the lake under the stars.\n"
    "No text or lettering in the image."
)

BLUE, GREEN, RED = (40, 90, 220), (40, 170, 60), (220, 30, 40)


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        size: tuple[int, int] = image.size
        return size


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        raw: bytes = image.convert("RGB").tobytes()
        return raw


def count_colour(data: bytes, colour: tuple[int, int, int]) -> int:
    with Image.open(io.BytesIO(data)) as image:
        rgb_image = image.convert("RGB")
        colours = rgb_image.getcolors(rgb_image.width * rgb_image.height) or []
        return sum(count for count, rgb in colours if rgb == colour)


def photo_without_traits() -> bytes:
    """A 'photo': blue sky on top, green ground below, a red figure in the middle; no traits chunk."""
    image = Image.new("RGB", (200, 200), BLUE)
    image.paste(GREEN, (0, 100, 200, 200))
    image.paste(RED, (80, 60, 120, 150))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def close(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_given_the_same_prompt_when_rendered_twice_then_the_png_bytes_are_identical() -> None:
    assert render_png(SLIDE_1) == render_png(SLIDE_1)


def test_given_the_same_prompt_and_reference_when_rendered_twice_then_the_png_bytes_are_identical() -> None:
    reference = render_png(SLIDE_1, (256, 256))

    assert render_png(SLIDE_2, (256, 256), references=[reference]) == render_png(
        SLIDE_2, (256, 256), references=[reference]
    )


@pytest.mark.parametrize("size", [(1024, 1024), (320, 200), (200, 480), (64, 64)])
def test_given_a_size_when_rendered_then_the_png_has_exactly_that_size(size: tuple[int, int]) -> None:
    assert png_size(render_png(SLIDE_1, size)) == size


def test_given_two_different_prompts_when_rendered_then_the_pictures_differ() -> None:
    first, second = render_png(SLIDE_1, (256, 256)), render_png(SLIDE_2, (256, 256))

    assert pixels(first) != pixels(second)


def test_given_no_reference_when_rendered_then_every_png_carries_its_traits_in_a_text_chunk() -> None:
    data = render_png(SLIDE_1, (128, 128))

    with Image.open(io.BytesIO(data)) as image:
        assert TRAITS_CHUNK in image.info  # a tEXt chunk, written before the pixel data
    traits = read_traits(data)
    assert traits is not None
    assert traits.character.kind == "fox"  # the prompt names a fox


def test_given_slide_1_as_reference_when_slide_2_is_rendered_then_it_adopts_slide_1s_traits() -> None:
    slide_1 = render_png(SLIDE_1, (256, 256))
    slide_1_traits = read_traits(slide_1)

    with_reference = render_png(SLIDE_2, (256, 256), references=[slide_1])
    on_its_own = render_png(SLIDE_2, (256, 256))

    assert slide_1_traits is not None
    assert read_traits(with_reference) == slide_1_traits
    # Without the reference slide 2 would have had its own character (an owl, by its prompt).
    own_traits = read_traits(on_its_own)
    assert own_traits is not None
    assert own_traits.character != slide_1_traits.character
    # And the adopted character is visibly there: its body colour covers part of the picture.
    assert count_colour(with_reference, slide_1_traits.character.body) > 500
    assert count_colour(on_its_own, slide_1_traits.character.body) < count_colour(
        with_reference, slide_1_traits.character.body
    )


def test_given_several_references_when_rendered_then_the_first_with_traits_wins() -> None:
    slide_1 = render_png(SLIDE_1, (128, 128))

    traits = traits_from_references([photo_without_traits(), slide_1], SLIDE_2)

    assert traits == read_traits(slide_1)


def test_given_a_reference_without_traits_when_rendered_then_the_traits_come_from_its_pixels() -> None:
    photo = photo_without_traits()

    traits = traits_from_references([photo], "Scene: a cat looks at the sky")
    rendered = render_png("Scene: a cat looks at the sky", (128, 128), references=[photo])

    assert read_traits(photo) is None
    assert close(traits.palette.sky, BLUE)
    assert close(traits.palette.ground, GREEN)
    assert close(traits.character.body, RED)
    assert traits.character.kind == "cat"  # named by the prompt
    assert read_traits(rendered) == traits


def test_given_a_jpeg_photo_as_reference_when_read_then_its_traits_come_from_its_pixels() -> None:
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(photo_without_traits())) as photo:
        photo.save(buffer, "JPEG", quality=85)

    traits = traits_from_references([buffer.getvalue()], "Scene: the fox sleeps")

    assert close(traits.palette.sky, BLUE, tolerance=30)
    assert close(traits.palette.ground, GREEN, tolerance=30)
    assert close(traits.character.body, RED, tolerance=30)
    assert traits.character.kind == "fox"


def test_given_n_variants_when_rendered_then_they_differ_but_share_the_traits() -> None:
    first = render_scene(SLIDE_1, (128, 128), variant=0)
    second = render_scene(SLIDE_1, (128, 128), variant=1)

    assert first.traits == second.traits
    assert first.image.tobytes() != second.image.tobytes()


def test_given_traits_when_serialised_then_they_round_trip_and_garbage_is_refused() -> None:
    traits = Traits(
        palette=Palette(sky=(1, 2, 3), horizon=(4, 5, 6), ground=(7, 8, 9)),
        character=Character(kind="bear", body=(10, 11, 12), accent=(250, 251, 252)),
    )

    assert Traits.from_json(traits.to_json()) == traits
    for garbage in (
        "{}",
        "not json",
        '{"palette": 1, "character": 2}',
        traits.to_json().replace("bear", "dragon"),
    ):
        with pytest.raises(ValueError, match=r"traits|kind"):
            Traits.from_json(garbage)


def test_given_a_prompt_with_a_scene_line_when_captioned_then_the_caption_is_that_line() -> None:
    assert caption_for(SLIDE_1) == "Pip walks through the forest at night holding a lantern."


def test_given_a_prompt_without_a_scene_line_when_captioned_then_the_caption_is_its_last_line() -> None:
    assert caption_for("A fox.\n\nIt is raining.\n  \n") == "It is raining."
    assert caption_for("") == ""


def test_given_a_caption_too_wide_when_fitted_then_it_is_cut_at_a_word_with_an_ellipsis() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert fit_text("short", 10, measure) == "short"
    assert fit_text("the fox walks home, slowly", 16, measure) == "the fox walks…"
    assert fit_text("unbreakableword", 6, measure) == "unbre…"


def test_given_a_prompt_naming_animals_when_the_kind_is_chosen_then_the_first_named_wins() -> None:
    assert character_kind("A bunny and a bear") == "rabbit"
    assert character_kind("Mice scatter before the owl") == "mouse"
    # Whole words only: "scatter" has no cat, "bearing" no bear.
    assert character_kind("Leaves scatter, bearing news") is None
