"""Every function cold-starts with exactly the environment the template gives it: no setting a
handler needs is missing from the stack."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import StackConfig
from infra.function_catalogue import function_specs
from tests.handler_imports import cold_import
from tests.infrastructure.conftest import TEST_CONFIG
from tests.infrastructure.template_reading import function

# Template values that are references (ARNs, names) resolve at deploy time; any text will do here.
DEPLOY_TIME = "arn:aws:service:us-east-1:123456789012:resolved-at-deploy"


def deployed_environment(template: Any, name: str) -> dict[str, str]:
    variables = function(template, name)[1]["Properties"]["Environment"]["Variables"]
    return {key: value if isinstance(value, str) else DEPLOY_TIME for key, value in variables.items()}


# Every function of the catalogue, by the module of its handler.
HANDLER_MODULES = {
    name: spec.handler.partition(":")[0].removeprefix("storyimages.handlers.")
    for name, spec in function_specs(StackConfig.model_validate(TEST_CONFIG)).items()
}


@pytest.mark.parametrize(("name", "module"), sorted(HANDLER_MODULES.items()))
def test_given_the_deployed_environment_when_the_handler_cold_starts_then_its_settings_load(
    template, name: str, module: str
) -> None:
    environment = deployed_environment(template, name) | {"AWS_REGION": "us-east-1"}

    assert "packages" in cold_import(module, environment)
