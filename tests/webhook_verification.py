"""Webhook deliveries checked as receivers check them: with the independent `standardwebhooks`
libraries (PyPI and npm), not with our own signing code, so a change in how we sign that
breaks the Standard Webhooks scheme fails the tests."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import standardwebhooks

NODE_VERIFIER = Path(__file__).with_name("webhook_verify.cjs")
NODE_DEADLINE_SECONDS = 30.0

Verifier = Callable[[str, Mapping[str, str], bytes], Any]


class Refused(Exception):
    """A verifier did not accept the delivery."""


def verify_with_python(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    try:
        return standardwebhooks.Webhook(secret).verify(body, dict(headers))
    except standardwebhooks.WebhookVerificationError as exc:
        raise Refused(f"standardwebhooks (PyPI): {exc}") from exc


def verify_with_node(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    request = {"secret": secret, "headers": dict(headers), "body": base64.b64encode(body).decode()}
    done = subprocess.run(
        ["node", str(NODE_VERIFIER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=NODE_DEADLINE_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise Refused(f"standardwebhooks (npm): {done.stderr.strip()}")
    return json.loads(done.stdout)


VERIFIERS: dict[str, Verifier] = {"python": verify_with_python, "node": verify_with_node}


def verified(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    """The payload, once both libraries accept the delivery and read back exactly its body."""
    sent = json.loads(body)
    for name, verify in VERIFIERS.items():
        assert verify(secret, headers, body) == sent, f"{name} verified something other than the body"
    return sent
