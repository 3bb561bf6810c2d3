from __future__ import annotations

import pytest

from storyimages.domain.errors import Unauthorized
from storyimages.domain.identity import Caller, authenticate, bearer_token


class RecordingVerifier:
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def verify(self, token: str) -> Caller:
        self.tokens.append(token)
        return Caller(uid="u1")


def test_given_a_bearer_token_when_authenticated_then_the_verifier_decides_who_calls() -> None:
    verifier = RecordingVerifier()

    assert authenticate("Bearer aaa.bbb.ccc", verifier) == Caller("u1")
    assert authenticate("bearer aaa.bbb.ccc", verifier) == Caller("u1")
    assert verifier.tokens == ["aaa.bbb.ccc", "aaa.bbb.ccc"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwdw==",
        "Bearer not-a-jwt",
        "Bearer a.b.c d",
        "Token a.b.c",
        "Bearer " + "a" * 5000 + ".b.c",
    ],
)
def test_given_no_or_a_malformed_authorization_when_authenticated_then_unauthorized_without_verifying(
    header: str | None,
) -> None:
    verifier = RecordingVerifier()

    with pytest.raises(Unauthorized):
        authenticate(header, verifier)

    assert verifier.tokens == []


def test_bearer_token_strips_the_scheme() -> None:
    assert bearer_token("Bearer x.y.z") == "x.y.z"
