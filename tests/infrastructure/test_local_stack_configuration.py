"""The local stack runs every function as the template configures it: given the same deployment
configuration, each function's environment, timeout and memory locally are the template's, with
only LOCAL_VARIABLES (local peers, credentials, local mode) set on top."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import StackConfig
from infra.function_catalogue import Reference, function_name, function_specs
from local_stack.stack import LOCAL_VARIABLES
from tests.infrastructure.conftest import TEST_CONFIG
from tests.infrastructure.template_reading import function, resources

# The kind of resource each reference names in the template.
REFERENCED_KINDS = {
    Reference.FIREBASE_SERVICE_ACCOUNT: "AWS::SecretsManager::Secret",
    Reference.OPENAI_API_KEY: "AWS::SecretsManager::Secret",
    Reference.WEBHOOK_SIGNING_KEY: "AWS::SecretsManager::Secret",
    Reference.IMAGES_BUCKET: "AWS::S3::Bucket",
    Reference.IMAGE_GENERATION_STATE_MACHINE: "AWS::StepFunctions::StateMachine",
    Reference.WEBHOOK_DELIVERY_STATE_MACHINE: "AWS::StepFunctions::StateMachine",
}


@pytest.fixture(scope="module")
def local(stack) -> Any:  # type: ignore[no-untyped-def]
    """The session's local stack, redeployed with the configuration the template was synthesized from."""
    deployed = stack.config.deployment
    stack.redeploy(deployment=StackConfig.model_validate(TEST_CONFIG))
    yield stack
    stack.redeploy(deployment=deployed)


def referenced_kind(template: Any, value: Any) -> str:
    """The type of the resource a `Ref` / `Fn::GetAtt` in the template points at."""
    logical_id = value.get("Ref") or value["Fn::GetAtt"][0]
    return str(template.to_json()["Resources"][logical_id]["Type"])


def test_given_the_template_when_its_functions_are_listed_then_each_is_in_the_catalogue(template) -> None:
    described = {
        r["Properties"]["Description"].removeprefix("storyimages ")
        for r in resources(template, "AWS::Lambda::Function").values()
    }

    assert described == set(function_specs(StackConfig.model_validate(TEST_CONFIG)))


@pytest.mark.parametrize("name", list(function_specs(StackConfig.model_validate(TEST_CONFIG))))
def test_given_one_configuration_when_deployed_and_run_locally_then_the_function_environment_is_the_templates(
    template, local, name: str
) -> None:
    deployed: dict[str, Any] = function(template, name)[1]["Properties"]["Environment"]["Variables"]
    here = local.environment(name)
    spec = function_specs(local.config.deployment)[name]

    assert set(here) - set(deployed) <= set(LOCAL_VARIABLES)
    for variable, value in deployed.items():
        assert variable in here, f"{name} lacks {variable} locally"
        if variable in LOCAL_VARIABLES:
            continue
        if isinstance(value, str):
            assert here[variable] == value, variable
        else:
            reference = spec.references[variable]
            assert referenced_kind(template, value) == REFERENCED_KINDS[reference], variable
            assert here[variable] == local.resources[reference], variable


@pytest.mark.parametrize("name", list(function_specs(StackConfig.model_validate(TEST_CONFIG))))
def test_given_one_configuration_when_run_locally_then_timeout_and_memory_are_the_templates(
    template, local, name: str
) -> None:
    properties = function(template, name)[1]["Properties"]
    running = local.functions()[function_name(name)]

    assert (running.timeout_seconds, running.memory_mb) == (properties["Timeout"], properties["MemorySize"])


def test_given_the_template_log_level_when_run_locally_then_the_handlers_are_configured_with_it(
    template, local
) -> None:
    deployed = function(template, "StartGeneration")[1]["Properties"]["Environment"]["Variables"]

    assert deployed["POWERTOOLS_LOG_LEVEL"] == local.environment("StartGeneration")["POWERTOOLS_LOG_LEVEL"] == "INFO"
