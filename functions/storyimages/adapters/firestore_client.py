"""The Firestore client: a service account from Secrets Manager in AWS (followed when rotated),
anonymous on an emulator."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from firebase_admin import credentials, firestore

from storyimages.adapters.firebase_app import AnonymousCredential, RotatingServiceAccount, firebase_app
from storyimages.adapters.secrets import secret_string
from storyimages.settings import FirestoreSettings

APP_NAME = "storyimages"
ClientFactory = Callable[[], Any]


def firestore_client(settings: FirestoreSettings) -> Any:
    def credential() -> credentials.Base:
        if settings.emulator_host:
            return AnonymousCredential()
        assert settings.credentials_secret_id  # FirestoreSettings insists on one of the two
        return RotatingServiceAccount(partial(secret_string, settings.credentials_secret_id))

    return firestore.client(firebase_app(APP_NAME, settings.project_id, credential))


def reserved_id(document_id: str) -> bool:
    """Firestore reserves `__...__` ids and refuses to read them; no story or job has one."""
    return document_id.startswith("__") and document_id.endswith("__")
