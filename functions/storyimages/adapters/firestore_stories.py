"""The app's stories in Firestore: read-only to the backend; errors and deadline as the job store's."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property, partial
from typing import Any

from storyimages.adapters.firestore_client import ClientFactory, firestore_client, reserved_id
from storyimages.adapters.firestore_errors import call_options, store_errors
from storyimages.defaults import FIRESTORE_TASK_DEADLINE_SECONDS
from storyimages.observability import tracer
from storyimages.settings import FirestoreSettings


class FirestoreStories:
    def __init__(
        self,
        client: ClientFactory,
        *,
        collection: str = "stories",
        deadline_seconds: float = FIRESTORE_TASK_DEADLINE_SECONDS,
    ) -> None:
        self._client_factory = client
        self._collection = collection
        self._call = call_options(deadline_seconds)

    @classmethod
    def from_settings(cls, settings: FirestoreSettings) -> FirestoreStories:
        return cls(
            partial(firestore_client, settings),
            collection=settings.stories_collection,
            deadline_seconds=settings.deadline_seconds,
        )

    @cached_property
    def _db(self) -> Any:
        return self._client_factory()

    @tracer.capture_method
    def get_story(self, story_id: str) -> Mapping[str, Any] | None:
        if reserved_id(story_id):
            return None
        with store_errors():
            snapshot = self._db.collection(self._collection).document(story_id).get(**self._call)
        return snapshot.to_dict() if snapshot.exists else None
