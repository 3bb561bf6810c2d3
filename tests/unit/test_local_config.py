from __future__ import annotations

import pytest

from local_stack.stack import FAST_RETRIES, LocalConfig


def test_given_no_settings_when_the_local_stack_is_configured_then_it_uses_the_local_images_server() -> None:
    config = LocalConfig.from_env({})

    assert (config.gateway_port, config.delay_seconds, config.max_concurrency) == (3000, 2, 1)
    assert config.real_openai_key is None
    assert dict(config.retries) == dict(FAST_RETRIES)


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
