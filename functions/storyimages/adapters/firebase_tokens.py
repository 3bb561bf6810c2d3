"""Firebase ID tokens verified as Firebase documents for a third-party JWT library, with
google-auth's public `verify_token` (the call firebase-admin itself makes): an RS256 signature
against the certificates at `AuthSettings.certs_url`, audience and issuer of our project, issued
and expiry times (with the configured clock skew), a subject of 1 to 128 characters, and an
authentication time not in the future.

Production and local mode run this same code; only the certificates URL differs (the local
stack's, for the development tokens it signs, accepted with STORYIMAGES_ENV=local only), so a
token signed with another key, expired, or for another project is refused locally too.
firebase-admin's emulator mode was not used: it skips the signature check altogether."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

import cachecontrol
import google.oauth2.id_token
import requests
from google.auth import jwt
from google.auth.transport import Request
from google.auth.transport.requests import Request as RequestsRequest

from storyimages.domain.errors import Unauthorized
from storyimages.domain.identity import Caller
from storyimages.settings import AuthSettings

ISSUER_PREFIX = "https://securetoken.google.com/"
ALGORITHM = "RS256"
MAX_SUBJECT_CHARS = 128


class InvalidIdToken(ValueError):
    pass


class FirebaseTokenVerifier:
    def __init__(self, settings: AuthSettings, *, request: Request | None = None) -> None:
        self._settings = settings
        self._injected = request

    @cached_property
    def _request(self) -> Request:
        """Fetches the certificates, kept as long as their Cache-Control allows (as firebase-admin does)."""
        if self._injected is not None:
            return self._injected
        return RequestsRequest(session=cachecontrol.CacheControl(requests.Session()))

    def verify(self, token: str) -> Caller:
        try:
            claims = self.verified_claims(token)
        except ValueError as exc:  # google-auth's refusals are ValueErrors; a certificate fetch failure is not
            raise Unauthorized("the ID token is not valid: expired, malformed or not signed for this project") from exc
        return Caller(uid=str(claims["sub"]))

    def verified_claims(self, token: str) -> dict[str, Any]:
        project = self._settings.project_id
        skew = self._settings.clock_skew_seconds
        if not token:
            raise InvalidIdToken("no ID token")
        # The shape first, from the unverified token (the claims a valid signature vouches for are
        # these same ones): a token that could never pass costs no certificate fetch.
        header = jwt.decode_header(token)  # type: ignore[no-untyped-call]
        _check_shape(header, jwt.decode(token, verify=False), project)  # type: ignore[no-untyped-call]
        claims = dict(
            google.oauth2.id_token.verify_token(
                token, self._request, audience=project, certs_url=self._settings.certs_url, clock_skew_in_seconds=skew
            )
        )
        now = time.time()
        for name in ("iat", "auth_time"):
            moment = claims.get(name)
            if not isinstance(moment, int | float) or isinstance(moment, bool) or moment > now + skew:
                raise InvalidIdToken(f'the ID token\'s "{name}" is missing or in the future')
        return claims


def _check_shape(header: dict[str, Any], claims: dict[str, Any], project: str) -> None:
    """What firebase-admin checks besides the signature and times, in its order."""
    if not header.get("kid"):
        raise InvalidIdToken('the ID token has no "kid" header')
    if header.get("alg") != ALGORITHM:
        raise InvalidIdToken(f"the ID token is signed with {header.get('alg')!r}, not {ALGORITHM}")
    if claims.get("aud") != project:
        raise InvalidIdToken(f'the ID token\'s "aud" is not {project!r}')
    if claims.get("iss") != ISSUER_PREFIX + project:
        raise InvalidIdToken(f'the ID token\'s "iss" is not {ISSUER_PREFIX + project!r}')
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS:
        raise InvalidIdToken(f'the ID token\'s "sub" is not a string of 1 to {MAX_SUBJECT_CHARS} characters')
