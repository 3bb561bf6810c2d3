"""Every function cold-starts with exactly the environment the template gives it: no setting a
handler needs is missing from the stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handler_imports import cold_import
from tests.infrastructure.template_reading import function

# Template values that are references (ARNs, names) resolve at deploy time; any text will do here.
DEPLOY_TIME = "arn:aws:service:us-east-1:123456789012:resolved-at-deploy"


def deployed_environment(template: Any, name: str) -> dict[str, str]:
    variables = function(template, name)[1]["Properties"]["Environment"]["Variables"]
    return {key: value if isinstance(value, str) else DEPLOY_TIME for key, value in variables.items()}


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("Authorizer", "authorizer"),
        ("StartGeneration", "start_generation"),
        ("JobStatus", "job_status"),
        ("JobControl", "job_control"),
        ("GenerateSlideImage", "generate_slide_image"),
        ("RecordSlideFailure", "record_slide_failure"),
        ("FinalizeJob", "finalize_job"),
        ("MarkJobFailed", "mark_job_failed"),
        ("DeliverWebhook", "deliver_webhook"),
        ("RecordWebhookFailure", "record_webhook_failure"),
    ],
)
def test_given_the_deployed_environment_when_the_handler_cold_starts_then_its_settings_load(
    template, name: str, module: str
) -> None:
    environment = deployed_environment(template, name) | {"AWS_REGION": "us-east-1"}

    assert "packages" in cold_import(module, environment)
