"""The local gateway evaluates an authorizer's policy as IAM does for `execute-api:Invoke`:
every statement whose Action and Resource match counts, an explicit Deny wins, and without a
matching Allow the request is refused (API Gateway answers 403)."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.gateway import policy_allows

API = "arn:aws:execute-api:us-east-1:123456789012:local/local"
GET_STATUS = f"{API}/GET/api/images/master-job/auto-gen-abc-1"
POST_CANCEL = f"{API}/POST/api/images/master-job/auto-gen-abc-1/cancel"
POST_START = f"{API}/POST/api/images/generate-all-automatically"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def test_given_a_get_only_policy_when_a_post_is_evaluated_then_it_is_refused() -> None:
    get_only = policy(allow(f"{API}/GET/*"))

    assert policy_allows(get_only, GET_STATUS) is True
    assert policy_allows(get_only, POST_CANCEL) is False


def test_given_an_allow_followed_by_an_explicit_deny_when_evaluated_then_the_deny_wins() -> None:
    allow_then_deny = policy(allow(f"{API}/*"), deny(f"{API}/POST/*/cancel"))

    assert policy_allows(allow_then_deny, POST_CANCEL) is False
    assert policy_allows(allow_then_deny, GET_STATUS) is True


def test_given_a_deny_before_an_allow_when_evaluated_then_the_order_does_not_matter() -> None:
    assert policy_allows(policy(deny(POST_CANCEL), allow("*")), POST_CANCEL) is False


def test_given_no_matching_allow_when_evaluated_then_refused() -> None:
    assert policy_allows(policy(allow(f"{API}/GET/api/other")), GET_STATUS) is False
    assert policy_allows(policy(), GET_STATUS) is False
    assert policy_allows({"Version": "2012-10-17"}, GET_STATUS) is False


def test_given_a_deny_that_does_not_match_when_evaluated_then_it_does_not_refuse() -> None:
    assert policy_allows(policy(allow("*"), deny(f"{API}/DELETE/*")), GET_STATUS) is True


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        ("*", True),
        (f"{API}/*", True),  # `*` runs across slashes
        (f"{API}/*/api/images/master-job/*", True),
        ("arn:aws:execute-api:*:123456789012:local/*", True),
        (f"{API}/G?T/*", True),  # `?` is one character
        (f"{API}/GE?/api/images/master-job/auto-gen-abc-?", True),
        (f"{API}/G??T/*", False),  # ... exactly one
        (f"{API}/?/*", False),
        (f"{API}/get/*", False),  # ARNs match case-sensitively
        (f"{API}/GET/api/images/master-job", False),  # no wildcard: the whole ARN must match
        (f"{API}/GET/api/images/master-job/auto-gen-abc-1", True),
        ("arn:aws:execute-api:us-east-1:123456789012:other/*", False),
        (f"{API}/GET/api/images/master-job/auto-gen-abc-1.", False),  # `.` is literal, not a regex
    ],
)
def test_given_iam_wildcards_in_the_resource_when_evaluated_then_they_match_as_iam_does(
    resource: str, allowed: bool
) -> None:
    assert policy_allows(policy(allow(resource)), GET_STATUS) is allowed


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("execute-api:Invoke", True),
        ("execute-api:invoke", True),  # actions match case-insensitively
        ("execute-api:*", True),
        ("execute-api:Inv?ke", True),
        ("*", True),
        ("execute-api:ManageConnections", False),
        ("s3:*", False),
        (["s3:GetObject", "execute-api:Invoke"], True),  # a list: any of them
        (["s3:GetObject", "execute-api:ManageConnections"], False),
        ([], False),
    ],
)
def test_given_an_action_or_action_list_when_evaluated_then_invoke_must_be_among_them(
    action: Any, allowed: bool
) -> None:
    assert policy_allows(policy(allow("*", action)), GET_STATUS) is allowed


def test_given_resource_lists_when_evaluated_then_any_listed_resource_matches() -> None:
    listed = policy(allow([f"{API}/POST/*", f"{API}/GET/api/images/master-job/*"]))

    assert policy_allows(listed, GET_STATUS) is True
    assert policy_allows(listed, POST_START) is True
    assert policy_allows(policy(allow([f"{API}/DELETE/*", f"{API}/PUT/*"])), GET_STATUS) is False


def test_given_not_action_when_evaluated_then_the_statement_covers_every_other_action() -> None:
    not_invoke = policy({"Effect": "Allow", "NotAction": "execute-api:Invoke", "Resource": "*"})
    not_s3 = policy({"Effect": "Allow", "NotAction": ["s3:*", "sqs:*"], "Resource": "*"})
    deny_not_s3 = policy(allow("*"), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})

    assert policy_allows(not_invoke, GET_STATUS) is False
    assert policy_allows(not_s3, GET_STATUS) is True
    assert policy_allows(deny_not_s3, GET_STATUS) is False


def test_given_not_resource_when_evaluated_then_the_statement_covers_every_other_resource() -> None:
    all_but_post = policy({"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": f"{API}/POST/*"})
    deny_all_but_get = policy(
        allow("*"), {"Effect": "Deny", "Action": "execute-api:Invoke", "NotResource": [f"{API}/GET/*"]}
    )

    assert policy_allows(all_but_post, GET_STATUS) is True
    assert policy_allows(all_but_post, POST_CANCEL) is False
    assert policy_allows(deny_all_but_get, GET_STATUS) is True
    assert policy_allows(deny_all_but_get, POST_START) is False


def test_given_a_single_statement_as_an_object_when_evaluated_then_it_counts_as_a_list_of_one() -> None:
    single_allow = {"Version": "2012-10-17", "Statement": allow(f"{API}/GET/*")}
    single_deny = {"Version": "2012-10-17", "Statement": deny("*")}

    assert policy_allows(single_allow, GET_STATUS) is True
    assert policy_allows(single_allow, POST_CANCEL) is False
    assert policy_allows(single_deny, GET_STATUS) is False


def test_given_the_policy_the_authorizer_returns_when_evaluated_then_every_route_of_the_stage_is_allowed() -> None:
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponse,
    )

    answer = APIGatewayAuthorizerResponse(
        principal_id="user-1", region="us-east-1", aws_account_id="123456789012", api_id="local", stage="local"
    )
    answer.allow_all_routes()
    document = answer.asdict()["policyDocument"]

    for arn in (GET_STATUS, POST_CANCEL, POST_START):
        assert policy_allows(document, arn) is True
    assert policy_allows(document, "arn:aws:execute-api:us-east-1:123456789012:local/prod/GET/x") is False


def test_given_statements_without_an_effect_or_action_when_evaluated_then_they_grant_nothing() -> None:
    assert policy_allows(policy({"Action": "execute-api:Invoke", "Resource": "*"}), GET_STATUS) is False
    assert policy_allows(policy({"Effect": "Allow", "Resource": "*"}), GET_STATUS) is False
    assert policy_allows(policy({"Effect": "Allow", "Action": "execute-api:Invoke"}), GET_STATUS) is False
