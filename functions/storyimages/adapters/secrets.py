"""Secrets from AWS Secrets Manager, through Powertools' parameters utility: each is fetched on
first use and then served from the container's cache for at most `max_age` seconds, so a
rotated secret is in use everywhere within that time, without waiting for a cold start."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from storyimages import defaults

if TYPE_CHECKING:  # imported where used: it loads boto3, which some handlers never need
    from aws_lambda_powertools.utilities.parameters import SecretsProvider


def secret_string(secret_id: str, client: Any = None, *, max_age: int = defaults.SECRET_MAX_AGE_SECONDS) -> str:
    """The secret's current string, at most `max_age` seconds old. `client` (a Secrets Manager
    client) is for tests; by default the container's one provider makes its own on first use."""
    return str(_provider(client).get(secret_id, max_age=max_age))


@cache
def _provider(client: Any) -> SecretsProvider:
    """One provider, and so one cache, per client: the default one lives as long as the container."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)
