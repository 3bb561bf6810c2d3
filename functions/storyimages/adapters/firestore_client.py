"""The Firestore client: a service account from Secrets Manager in AWS, anonymous on an emulator."""

from __future__ import annotations

import json
from typing import Any

import firebase_admin
from firebase_admin import credentials, firestore
from google.auth.credentials import AnonymousCredentials

from storyimages.adapters.secrets import secret_string
from storyimages.settings import FirestoreSettings

APP_NAME = "storyimages"


class EmulatorCredential(credentials.Base):  # type: ignore[misc]
    """The emulator accepts any caller; google-auth's anonymous credentials say so."""

    def get_credential(self) -> Any:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]


def firestore_client(settings: FirestoreSettings) -> Any:
    try:
        app = firebase_admin.get_app(APP_NAME)
    except ValueError:
        if settings.emulator_host:
            credential: credentials.Base = EmulatorCredential()
        else:
            assert settings.credentials_secret_id  # FirestoreSettings insists on one of the two
            credential = credentials.Certificate(json.loads(secret_string(settings.credentials_secret_id)))
        app = firebase_admin.initialize_app(credential, {"projectId": settings.project_id}, name=APP_NAME)
    return firestore.client(app)
