from __future__ import annotations

import json

import pytest

from infra.config import CONTEXT_KEY, StackConfig
from local_stack.stack import CDK_JSON, PROJECT_ID, LocalConfig


def cdk_context() -> dict[str, object]:
    return dict(json.loads(CDK_JSON.read_text())["context"][CONTEXT_KEY])


def test_given_no_settings_when_the_local_stack_is_configured_then_it_runs_what_cdk_json_deploys() -> None:
    config = LocalConfig.from_env({})

    expected = StackConfig.model_validate({**cdk_context(), "firebaseProjectId": PROJECT_ID})
    assert config.deployment == expected
    assert config.deployment.log_level == "INFO"  # the deployed level, not a quieter local one
    assert config.gateway_port == 3000
    assert config.real_openai_key is None
    assert dict(config.retries) == {}  # the ASL's production retry numbers


def test_given_local_settings_when_configured_then_they_override_the_deployment() -> None:
    env = {
        "DELAY_SECONDS": "0",
        "MAX_CONCURRENCY": "3",
        "IMAGE_SIZE": "1536x1024",
        "IMAGE_QUALITY": "low",
        "LOG_LEVEL": "DEBUG",
        "CORS_ALLOWED_ORIGINS": "http://a.test, http://b.test",
    }

    deployed = LocalConfig.from_env(env).deployment

    assert (deployed.delay_seconds, deployed.max_concurrency) == (0, 3)
    assert (deployed.image_size, deployed.image_quality, deployed.log_level) == ("1536x1024", "low", "DEBUG")
    assert deployed.cors_allowed_origins == ("http://a.test", "http://b.test")


@pytest.mark.parametrize("env", [{"LOG_LEVEL": "LOUD"}, {"DELAY_SECONDS": "-1"}, {"IMAGE_SIZE": "big"}])
def test_given_a_setting_the_deployment_refuses_when_configured_then_it_stops_naming_it(env: dict[str, str]) -> None:
    with pytest.raises(SystemExit, match="invalid local stack configuration"):
        LocalConfig.from_env(env)


def test_given_a_changed_setting_when_applied_then_local_and_deployment_fields_both_change() -> None:
    config = LocalConfig.from_env({}).changed(log_level="DEBUG", webhook_allow_loopback=True)

    assert config.deployment.log_level == "DEBUG"
    assert config.webhook_allow_loopback is True


def test_given_the_real_switch_and_a_key_when_configured_then_the_real_openai_is_used_with_production_retries() -> None:
    config = LocalConfig.from_env({"STORYIMAGES_OPENAI": "real", "OPENAI_API_KEY": "sk-test", "PORT": "4000"})

    assert config.real_openai_key == "sk-test"
    assert config.gateway_port == 4000
    assert dict(config.retries) == {}  # the ASL's production defaults apply


def test_given_a_key_without_the_switch_when_configured_then_nothing_calls_the_real_openai() -> None:
    assert LocalConfig.from_env({"OPENAI_API_KEY": "sk-test"}).real_openai_key is None


@pytest.mark.parametrize(
    "env", [{"STORYIMAGES_OPENAI": "real"}, {"STORYIMAGES_OPENAI": "sometimes"}], ids=["no key", "bad mode"]
)
def test_given_an_unusable_switch_when_configured_then_it_stops_with_a_message(env: dict[str, str]) -> None:
    with pytest.raises(SystemExit, match="STORYIMAGES_OPENAI"):
        LocalConfig.from_env(env)
