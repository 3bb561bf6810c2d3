"""The Firestore client: a service account from Secrets Manager in AWS, anonymous on an emulator.

A client's gRPC channel that has failed to connect for a while waits out a reconnect backoff
(growing to two minutes) before it dials again, failing every call meanwhile: after an outage a
warm Lambda would go on failing long after Firestore is back. So the adapters hold their client
in a FirestoreConnection, which they reset after a transient failure: the next call gets a new
client, whose channel dials at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from firebase_admin import credentials
from google.cloud import firestore

from storyimages.adapters.firebase_app import AnonymousCredential, firebase_app
from storyimages.adapters.secrets import secret_string
from storyimages.settings import FirestoreSettings

APP_NAME = "storyimages"
ClientFactory = Callable[[], Any]


def firestore_client(settings: FirestoreSettings) -> Any:
    def credential() -> credentials.Base:
        if settings.emulator_host:
            return AnonymousCredential()
        assert settings.credentials_secret_id  # FirestoreSettings insists on one of the two
        return credentials.Certificate(json.loads(secret_string(settings.credentials_secret_id)))

    # A new client on every call (firebase_admin.firestore.client() would keep one per app),
    # built as firebase-admin builds it: the app's credential and project.
    app = firebase_app(APP_NAME, settings.project_id, credential)
    return firestore.Client(project=app.project_id, credentials=app.credential.get_credential())


class FirestoreConnection:
    """One client, made on first use; `reset` drops it, so the next use makes a fresh one."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: Any = None

    @property
    def db(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def reset(self) -> None:
        # Dropped, not closed: a factory may hand out a client it shares (the tests' own).
        self._client = None


def reserved_id(document_id: str) -> bool:
    """Firestore reserves `__...__` ids and refuses to read them; no story or job has one."""
    return document_id.startswith("__") and document_id.endswith("__")
