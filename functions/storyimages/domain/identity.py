"""Who is calling: a Firebase user, proven by a Bearer ID token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from storyimages.domain.errors import Unauthorized

# A JWT is three base64url segments; anything else is not worth sending to the verifier.
_BEARER = re.compile(r"^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$", re.IGNORECASE)
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class Caller:
    uid: str


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Caller:
        """Raises Unauthorized for a token that is malformed, expired or not signed by the issuer."""
        ...


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <Firebase ID token>")
    match = _BEARER.match(authorization.strip())
    if match is None or len(match.group(1)) > MAX_TOKEN_CHARS:
        raise Unauthorized("the Authorization header is not a Bearer token")
    return match.group(1)


def authenticate(authorization: str | None, verifier: TokenVerifier) -> Caller:
    return verifier.verify(bearer_token(authorization))
