"""Secrets are cached for a maximum age, and what is built from them follows a rotation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.auth import jwt

from local_stack.identity import SigningKey
from storyimages import defaults
from storyimages.adapters.firebase_app import RotatingServiceAccount
from storyimages.adapters.secrets import secret_string


class RecordingSecretsManager:
    """A Secrets Manager client that answers from a dict and records each GetSecretValue."""

    def __init__(self, **values: str) -> None:
        self.values = dict(values)
        self.calls: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.calls.append(SecretId)
        return {"Name": SecretId, "SecretString": self.values[SecretId]}


def test_given_a_secret_read_when_read_again_within_the_max_age_then_it_is_not_fetched_again() -> None:
    client = RecordingSecretsManager(webhook="v1", openai="sk-1")

    reads = [secret_string("webhook", client) for _ in range(3)] + [secret_string("openai", client)]
    client.values["webhook"] = "v2"  # rotated, but the cached value is not yet past its max age

    assert reads == ["v1", "v1", "v1", "sk-1"]
    assert secret_string("webhook", client) == "v1"
    assert client.calls == ["webhook", "openai"]


def test_given_no_max_age_asked_then_the_deployment_default_applies() -> None:
    assert secret_string.__kwdefaults__ == {"max_age": defaults.SECRET_MAX_AGE_SECONDS}
    assert 0 < defaults.SECRET_MAX_AGE_SECONDS <= 900


class FakeTokenEndpoint:
    """Google's OAuth token endpoint as google-auth's transport sees it: records each grant's
    assertion (a JWT the service account's key signed) and answers an access token."""

    def __init__(self) -> None:
        self.assertions: list[dict[str, Any]] = []

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any) -> Any:
        form = dict(pair.split("=", 1) for pair in (body.decode() if isinstance(body, bytes) else body).split("&"))
        self.assertions.append(jwt.decode(form["assertion"], verify=False))  # type: ignore[no-untyped-call]
        answer = {"access_token": f"token-{len(self.assertions)}", "expires_in": 3600, "token_type": "Bearer"}
        return type("Response", (), {"status": 200, "headers": {}, "data": json.dumps(answer).encode()})()


def service_account(email: str) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "p",
            "private_key_id": email,
            "private_key": SigningKey.generate().private_pem.decode(),
            "client_email": email,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def test_given_a_rotated_service_account_when_the_access_token_is_renewed_then_the_new_key_signs() -> None:
    secret = {"key": service_account("old@p.iam.gserviceaccount.com")}
    credential = RotatingServiceAccount(lambda: secret["key"]).get_credential()
    endpoint = FakeTokenEndpoint()

    credential.refresh(endpoint)
    secret["key"] = service_account("new@p.iam.gserviceaccount.com")
    credential.refresh(endpoint)

    assert [a["iss"] for a in endpoint.assertions] == ["old@p.iam.gserviceaccount.com", "new@p.iam.gserviceaccount.com"]
    assert credential.token == "token-2" and credential.valid


def test_given_a_secret_that_is_no_service_account_when_the_client_is_made_then_it_fails_there() -> None:
    with pytest.raises(ValueError, match=r"missing fields|not in the expected format"):
        RotatingServiceAccount(lambda: json.dumps({"type": "service_account"}))
