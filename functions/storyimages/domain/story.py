"""The story document the app keeps in Firestore, and the prompts we derive from it.

Accepted schema of `stories/{storyId}` (fields not listed are the app's and are ignored):

    ownerId     string, required: the Firebase uid of the story's owner
    title       string, optional
    style       string, optional: art direction applied to every slide
    characters  string, optional: who appears, so every slide describes them the same way
    slides      array, required, 1..MAX_SLIDES items, in reading order:
        text         string: the slide's narration
        imagePrompt  string, optional: what to draw; defaults to `text`

"string" means a Firestore string: a field stored as bytes (a Blob), a number or anything else
makes the story INVALID_STORY, naming the field; nothing is converted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storyimages.domain.errors import InvalidStory, TooManySlides

MAX_PROMPT_CHARS = 4000


class Slide(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str = Field(default="", max_length=MAX_PROMPT_CHARS, strict=True)
    image_prompt: str | None = Field(default=None, alias="imagePrompt", max_length=MAX_PROMPT_CHARS, strict=True)

    @model_validator(mode="after")
    def _has_something_to_draw(self) -> Slide:
        if not self.scene:
            raise ValueError("a slide needs a non-empty `text` or `imagePrompt`")
        return self

    @property
    def scene(self) -> str:
        return (self.image_prompt or self.text).strip()


class Story(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # strict: pydantic would otherwise decode bytes into a string.
    owner_id: str = Field(alias="ownerId", min_length=1, strict=True)
    title: str = Field(default="", max_length=500, strict=True)
    style: str = Field(default="", max_length=1000, strict=True)
    characters: str = Field(default="", max_length=2000, strict=True)
    slides: tuple[Slide, ...] = Field(min_length=1)

    @classmethod
    def from_document(cls, story_id: str, document: Mapping[str, Any], *, max_slides: int) -> Story:
        """Validate the app's story document; a clear error names every field that is wrong."""
        try:
            story = cls.model_validate(document)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(part) for part in err["loc"]), "problem": err["msg"]}
                for err in exc.errors(include_url=False)
            ]
            raise InvalidStory(f"story {story_id!r} does not match the accepted schema", details=problems) from None
        if len(story.slides) > max_slides:
            raise TooManySlides(
                f"story {story_id!r} has {len(story.slides)} slides; at most {max_slides} are illustrated per job",
                details={"slides": len(story.slides), "maxSlides": max_slides},
            )
        return story

    def slide_prompt(self, slide_number: int) -> str:
        """The prompt for one slide, self-contained so every image carries the story's context."""
        slide = self.slides[slide_number - 1]
        parts = [f"Illustration for slide {slide_number} of {len(self.slides)} of a story"]
        if self.title:
            parts[0] += f' titled "{self.title}"'
        parts[0] += "."
        if self.style:
            parts.append(f"Art style: {self.style}.")
        if self.characters:
            parts.append(f"Characters: {self.characters}.")
        parts.append(f"Scene: {slide.scene}")
        parts.append("No text or lettering in the image.")
        return "\n".join(parts)


REFERENCE_INSTRUCTION = (
    "Use the reference image for character consistency: keep every recurring character's "
    "appearance, clothing and colours, and the art style, exactly as they are there."
)


def image_prompt(slide_prompt: str, *, with_reference: bool) -> str:
    """What the image service receives: the slide's prompt, told how to use a reference image."""
    return f"{REFERENCE_INSTRUCTION}\n{slide_prompt}" if with_reference else slide_prompt
