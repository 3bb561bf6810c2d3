"""Story documents for tests, in the schema the app writes to Firestore."""

from __future__ import annotations

from typing import Any


def story_document(slides: int = 5, *, owner: str = "user-1", **extra: Any) -> dict[str, Any]:
    return {
        "ownerId": owner,
        "title": "The Fox and the Lantern",
        "style": "watercolour",
        "characters": "Juniper, a small orange fox",
        "slides": [{"text": f"Slide {n} text", "imagePrompt": f"Juniper in scene {n}"} for n in range(1, slides + 1)],
        **extra,
    }
