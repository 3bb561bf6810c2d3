"""Secrets from AWS Secrets Manager, fetched on first use and cached for the container's life."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def secret_string(secret_id: str, client: Any = None) -> str:
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
