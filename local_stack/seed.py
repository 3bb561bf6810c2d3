"""Put the example stories into Firestore: `examples/<storyId>.json` becomes `stories/<storyId>`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def example_stories(directory: Path = EXAMPLES_DIR) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def seed_stories(db: Any, stories: dict[str, dict[str, Any]], *, collection: str = "stories") -> list[str]:
    batch = db.batch()
    for story_id, document in stories.items():
        batch.create(db.collection(collection).document(story_id), document)
    batch.commit()
    return list(stories)
