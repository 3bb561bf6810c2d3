"""Property-based requests generated from docs/openapi.json against the local gateway: no 5xx,
every answer fits the document (status code, content type, headers, body schema), and
requests that break the schema are refused.

Not checked: that every schema-valid request is accepted. Whether a story exists and is yours,
whether a webhook host resolves to a public address, and the deployment's allowed sizes are
rules the schema cannot state; they answer with the documented 404 and 422."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_given_generated_requests_when_sent_then_no_server_error_and_every_answer_fits_the_spec(
    case, stack, images
) -> None:
    case.call_and_validate(
        base_url=stack.url,
        headers={"Authorization": f"Bearer {stack.token('user-1')}"},
        # API Gateway answers a method a resource lacks with its MISSING_AUTHENTICATION_TOKEN
        # response (404 ROUTE_NOT_FOUND here), not 405; the local gateway answers as it does.
        excluded_checks=[checks.positive_data_acceptance, checks.unsupported_method],
    )
