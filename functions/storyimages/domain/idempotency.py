"""Idempotency-Key: the same key from the same user replays the first answer; the same key
with a different request is refused."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storyimages.domain.errors import InvalidRequest

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# How long a key replays its first answer; Firestore's TTL policy deletes older records later.
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class IdempotencyRecord:
    key_id: str
    owner_id: str
    request_hash: str
    job_id: str
    created_at: datetime

    def expired(self, now: datetime) -> bool:
        return now - self.created_at > RETENTION


def key_id(uid: str, key: str) -> str:
    """Scoped to the user, hashed so any printable key is a valid document id."""
    if not _KEY.match(key):
        raise InvalidRequest("Idempotency-Key must be 1 to 255 printable ASCII characters")
    return hashlib.sha256(f"{uid}\n{key}".encode()).hexdigest()


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
