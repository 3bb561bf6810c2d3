"""The ID token verifier: the checks firebase-admin makes, against the certificates at the
configured URL, on the same code path in production and in local mode."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from typing import Any

import pytest
from google.auth import crypt, jwt

from local_stack.identity import DevIdentities, SigningKey
from storyimages.adapters.firebase_tokens import FirebaseTokenVerifier
from storyimages.domain.errors import Unauthorized
from storyimages.settings import AuthSettings

PROJECT = "storyimages-test"
LOCAL_CERTS = "http://127.0.0.1:9/_local/auth/certs"


class Certificates:
    """google-auth's transport as verify_token sees it: answers the certificates, records the URLs asked."""

    def __init__(self, identities: DevIdentities) -> None:
        self.body = identities.certificates().encode()
        self.urls: list[str] = []

    def __call__(self, url: str, method: str = "GET", **_: Any) -> Any:
        self.urls.append(url)
        return type("Response", (), {"status": 200, "headers": {}, "data": self.body})()


# RSA keys are slow to make: one set for the module.
IDENTITIES = DevIdentities(PROJECT)
IMPOSTOR = SigningKey(IDENTITIES.key.key_id, *dataclasses.astuple(SigningKey.generate())[1:])  # same kid, another key
STRANGER = SigningKey.generate()


@pytest.fixture
def identities() -> DevIdentities:
    return IDENTITIES


def verifier(identities: DevIdentities, *, local: bool = False, skew: int = 0) -> tuple[FirebaseTokenVerifier, Any]:
    env = {"FIREBASE_PROJECT_ID": PROJECT, "AUTH_CLOCK_SKEW_SECONDS": str(skew)}
    if local:
        env |= {"STORYIMAGES_ENV": "local", "AUTH_LOCAL_CERTS_URL": LOCAL_CERTS}
    certificates = Certificates(identities)
    return FirebaseTokenVerifier(AuthSettings.from_env(env), request=certificates), certificates


def segment(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("local", [False, True])
def test_given_a_valid_token_when_verified_then_the_caller_is_its_subject_and_the_configured_certificates_are_used(
    identities: DevIdentities, local: bool
) -> None:
    check, certificates = verifier(identities, local=local)

    assert check.verify(identities.token("user-1")).uid == "user-1"
    assert certificates.urls == [LOCAL_CERTS if local else AuthSettings.FIREBASE_CERTS_URL]


def bad_tokens(identities: DevIdentities) -> dict[str, str]:
    now = int(time.time())
    no_kid = crypt.RSASigner.from_string(identities.key.private_pem)  # type: ignore[no-untyped-call]
    header, payload, signature = identities.token("user-1").split(".")
    return {
        "expired": identities.token("user-1", iat=now - 7200, exp=now - 3600, auth_time=now - 7200),
        "wrongly signed": IMPOSTOR.sign(identities.claims("user-1")),
        "unknown key": STRANGER.sign(identities.claims("user-1")),
        "other audience": identities.token("user-1", aud="someone-else"),
        "other issuer": identities.token("user-1", iss="https://securetoken.google.com/someone-else"),
        "unsigned": f"{header}.{payload}.",
        "tampered": f"{header}.{identities.token('user-2').split('.')[1]}.{signature}",
        "issued in the future": identities.token("user-1", iat=now + 3600, exp=now + 7200),
        "authenticated in the future": identities.token("user-1", auth_time=now + 3600),
        "no authentication time": identities.token("user-1", auth_time=None),
        "empty subject": identities.token("", sub=""),
        "subject too long": identities.token("u" * 129),
        "subject not a string": identities.token("user-1", sub=7),
        "no key id": jwt.encode(no_kid, identities.claims("user-1")).decode(),  # type: ignore[no-untyped-call]
        "not RS256": f"{segment({'alg': 'HS256', 'kid': identities.key.key_id, 'typ': 'JWT'})}.{payload}.{signature}",
        "alg none": f"{segment({'alg': 'none', 'kid': identities.key.key_id})}.{payload}.",
        "header not an object": f"{segment([])}.{payload}.{signature}",  # type: ignore[arg-type]
        "not base64": "!!.??.##",
        "empty": "",
    }


BAD_TOKENS = bad_tokens(IDENTITIES)  # made once: signing is slow too


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize("reason", list(BAD_TOKENS))
def test_given_a_token_firebase_would_refuse_when_verified_then_unauthorized_in_production_and_locally(
    identities: DevIdentities, reason: str, local: bool
) -> None:
    check, _ = verifier(identities, local=local)

    with pytest.raises(Unauthorized):
        check.verify(BAD_TOKENS[reason])


def test_given_a_subject_of_128_characters_when_verified_then_accepted(identities: DevIdentities) -> None:
    check, _ = verifier(identities)

    assert check.verify(identities.token("u" * 128)).uid == "u" * 128


def test_given_a_token_just_expired_when_a_clock_skew_is_allowed_then_accepted_within_it(
    identities: DevIdentities,
) -> None:
    now = int(time.time())
    token = identities.token("user-1", iat=now - 3600, exp=now - 10, auth_time=now - 3600)

    with pytest.raises(Unauthorized):
        verifier(identities)[0].verify(token)
    assert verifier(identities, skew=30)[0].verify(token).uid == "user-1"
