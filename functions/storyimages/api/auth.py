"""The caller of a route: the uid the authorizer put in the request context.

API Gateway (and the local gateway) only call a route after the authorizer allowed the
token, so a request without that context never came through it: refuse it."""

from __future__ import annotations

from typing import Any

from storyimages.domain.errors import Unauthorized
from storyimages.domain.identity import Caller


def caller_of(event: dict[str, Any]) -> Caller:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    uid = authorizer.get("uid") or authorizer.get("principalId")
    if not isinstance(uid, str) or not uid:
        raise Unauthorized("this route needs a verified Firebase ID token")
    return Caller(uid=uid)
