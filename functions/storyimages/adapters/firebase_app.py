"""Named firebase-admin apps, created once per container, and the credentials they use."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import firebase_admin
from firebase_admin import credentials
from google.auth.credentials import AnonymousCredentials
from google.auth.credentials import Credentials as GoogleCredentials
from google.oauth2 import service_account

# What the Firestore client needs; firebase-admin's Certificate asks for these and more.
SERVICE_ACCOUNT_SCOPES = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/datastore",
)


class AnonymousCredential(credentials.Base):  # type: ignore[misc]
    """For callers that need no service account: the Firestore emulator."""

    def get_credential(self) -> Any:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]


class RotatingServiceAccount(credentials.Base):  # type: ignore[misc]
    """A service account whose key (its JSON, `read_key()`: a secret read through the secrets
    cache) is read again each time an access token is renewed, about hourly, so a client made
    once per container follows a rotated key. Google accepts a service account's old key
    alongside its new one: keep the old one valid an hour and the secret's max age after the
    new one is in the secret."""

    def __init__(self, read_key: Callable[[], str]) -> None:
        self._credential = _RenewedFromKey(read_key)

    def get_credential(self) -> GoogleCredentials:
        return self._credential


class _RenewedFromKey(GoogleCredentials):
    def __init__(self, read_key: Callable[[], str]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._read_key = read_key
        self._current()  # a key that is not a service account's fails here, as the client is made

    def _current(self) -> Any:
        info = json.loads(self._read_key())
        return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(SERVICE_ACCOUNT_SCOPES)
        )

    def refresh(self, request: Any) -> None:
        current = self._current()
        current.refresh(request)
        self.token, self.expiry = current.token, current.expiry


def firebase_app(name: str, project_id: str, credential: Any) -> Any:
    """The app called `name`, initialised with `credential()` on first use."""
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        return firebase_admin.initialize_app(credential(), {"projectId": project_id}, name=name)
