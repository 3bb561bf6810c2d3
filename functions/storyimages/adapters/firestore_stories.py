"""The app's stories in Firestore: read-only to the backend."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property, partial
from typing import Any

from storyimages.adapters.firestore_client import ClientFactory, firestore_client, reserved_id
from storyimages.settings import FirestoreSettings


class FirestoreStories:
    def __init__(self, client: ClientFactory, *, collection: str = "stories") -> None:
        self._client_factory = client
        self._collection = collection

    @classmethod
    def from_settings(cls, settings: FirestoreSettings) -> FirestoreStories:
        return cls(partial(firestore_client, settings), collection=settings.stories_collection)

    @cached_property
    def _db(self) -> Any:
        return self._client_factory()

    def get_story(self, story_id: str) -> Mapping[str, Any] | None:
        if reserved_id(story_id):
            return None
        snapshot = self._db.collection(self._collection).document(story_id).get()
        return snapshot.to_dict() if snapshot.exists else None
