"""Firebase ID tokens verified with firebase-admin: RS256 signature against Google's public
certificates, audience and issuer of our project, expiry, subject."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from firebase_admin import auth

from storyimages.adapters.firebase_app import AnonymousCredential, firebase_app
from storyimages.domain.errors import Unauthorized
from storyimages.domain.identity import Caller
from storyimages.settings import AuthSettings

APP_NAME = "storyimages-auth"


class FirebaseTokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings

    @cached_property
    def _app(self) -> Any:
        # Verifying a token reads public certificates only: no service account needed.
        app = firebase_app(APP_NAME, self._settings.project_id, AnonymousCredential)
        if self._settings.local_certs_url:
            # Local mode only (AuthSettings refuses it elsewhere): trust the local stack's
            # development signing key instead of Google's, through the same verification code.
            auth._get_client(app)._token_verifier.id_token_verifier.cert_url = self._settings.local_certs_url
        return app

    def verify(self, token: str) -> Caller:
        try:
            claims = auth.verify_id_token(token, app=self._app, clock_skew_seconds=self._settings.clock_skew_seconds)
        except (ValueError, auth.InvalidIdTokenError) as exc:
            raise Unauthorized("the ID token is not valid: expired, malformed or not signed for this project") from exc
        return Caller(uid=str(claims["uid"]))
