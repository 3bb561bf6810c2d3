"""Named firebase-admin apps, created once per container."""

from __future__ import annotations

from typing import Any

import firebase_admin
from firebase_admin import credentials
from google.auth.credentials import AnonymousCredentials


class AnonymousCredential(credentials.Base):  # type: ignore[misc]
    """For callers that need no service account: the emulator, and reading public certificates."""

    def get_credential(self) -> Any:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]


def firebase_app(name: str, project_id: str, credential: Any) -> Any:
    """The app called `name`, initialised with `credential()` on first use."""
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        return firebase_admin.initialize_app(credential(), {"projectId": project_id}, name=name)
