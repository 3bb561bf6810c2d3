"""CORS for the configured origins only, on answers and on errors alike."""

from __future__ import annotations

import pytest
import requests

from tests.api_client import START
from tests.conftest import APP_ORIGIN


def test_given_a_preflight_from_the_app_when_asked_then_the_methods_and_headers_are_allowed(stack) -> None:
    response = requests.options(
        f"{stack.url}{START}",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
        timeout=10,
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed


def test_given_an_answer_to_the_app_when_sent_then_it_carries_the_origin(stack, api) -> None:
    response = requests.get(
        f"{stack.url}/api/images/master-job/auto-gen-x-1", headers=api.headers({"Origin": APP_ORIGIN}), timeout=10
    )

    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_given_an_unauthorized_request_from_the_app_when_refused_then_the_browser_can_read_the_401(stack) -> None:
    response = requests.post(f"{stack.url}{START}", json={}, headers={"Origin": APP_ORIGIN}, timeout=10)

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_given_another_origin_when_it_asks_then_it_is_not_allowed(stack, api) -> None:
    preflight = requests.options(
        f"{stack.url}{START}",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    answer = requests.get(
        f"{stack.url}/api/images/master-job/auto-gen-x-1",
        headers=api.headers({"Origin": "https://evil.example"}),
        timeout=10,
    )

    # The preflight (API Gateway's MOCK integration) names the app's origin whoever asks, which a
    # browser at another origin refuses; the Lambdas' own answers name no origin at all.
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_given_a_redeploy_with_another_origin_when_it_asks_then_the_gateway_and_the_lambdas_both_allow_it(
    stack, api
) -> None:
    other = "https://other.example"
    stack.redeploy(cors_allowed_origins=(other,))
    try:
        preflight = requests.options(
            f"{stack.url}{START}", headers={"Origin": other, "Access-Control-Request-Method": "POST"}, timeout=10
        )
        answer = requests.get(
            f"{stack.url}/api/images/master-job/auto-gen-x-1", headers=api.headers({"Origin": other}), timeout=10
        )
    finally:
        stack.redeploy(cors_allowed_origins=(APP_ORIGIN,))

    assert preflight.headers["Access-Control-Allow-Origin"] == other
    assert answer.headers["Access-Control-Allow-Origin"] == other


def test_given_a_setting_only_a_new_stack_can_change_when_redeployed_then_it_is_refused(stack) -> None:
    with pytest.raises(ValueError, match="take a new stack"):
        stack.redeploy(gateway_port=4000)
