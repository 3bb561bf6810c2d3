from __future__ import annotations

import pytest

from storyimages.settings import (
    AuthSettings,
    ConfigurationError,
    FirestoreSettings,
    ImageSettings,
    OpenAISettings,
    StartSettings,
    WebhookSettings,
)


def test_given_a_missing_variable_when_settings_load_then_the_cold_start_fails_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="STATE_MACHINE_ARN"):
        StartSettings.from_env({})


def test_given_neither_credentials_nor_emulator_when_firestore_settings_load_then_they_fail() -> None:
    with pytest.raises(ConfigurationError, match="FIREBASE_CREDENTIALS_SECRET_ID"):
        FirestoreSettings.from_env({"FIREBASE_PROJECT_ID": "p"})


def test_given_no_openai_key_source_when_settings_load_then_they_fail() -> None:
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY_SECRET_ID"):
        OpenAISettings.from_env({})


def test_given_defaults_when_image_settings_load_then_a_current_model_is_used() -> None:
    spec = ImageSettings.from_env({}).spec()

    assert (spec.model, spec.size, spec.quality, spec.format) == ("gpt-image-2", "1024x1024", "medium", "png")


@pytest.mark.parametrize(("name", "value"), [("MAX_CONCURRENCY", "0"), ("MAX_SLIDES", "500"), ("DELAY_SECONDS", "-1")])
def test_given_an_out_of_range_number_when_start_settings_load_then_they_fail(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        StartSettings.from_env({"STATE_MACHINE_ARN": "arn", "WEBHOOK_STATE_MACHINE_ARN": "w", name: value})


def test_given_local_certificates_outside_local_mode_when_auth_settings_load_then_they_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="only accepted with STORYIMAGES_ENV=local"):
        AuthSettings.from_env({"FIREBASE_PROJECT_ID": "p", "AUTH_LOCAL_CERTS_URL": "http://127.0.0.1:1/certs"})


def test_given_local_mode_inside_aws_lambda_when_settings_load_then_they_are_refused() -> None:
    env = {
        "FIREBASE_PROJECT_ID": "p",
        "STORYIMAGES_ENV": "local",
        "AUTH_LOCAL_CERTS_URL": "http://127.0.0.1:1/certs",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    }
    with pytest.raises(ConfigurationError, match="refused inside AWS Lambda"):
        AuthSettings.from_env(env)


def test_given_the_firebase_auth_emulator_switch_when_auth_settings_load_then_they_are_refused_everywhere() -> None:
    for environment in ("production", "local"):
        env = {"FIREBASE_PROJECT_ID": "p", "STORYIMAGES_ENV": environment, "FIREBASE_AUTH_EMULATOR_HOST": "x:9099"}
        with pytest.raises(ConfigurationError, match="unsigned tokens"):
            AuthSettings.from_env(env)


def test_given_loopback_webhooks_outside_local_mode_when_settings_load_then_they_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="WEBHOOK_ALLOW_LOOPBACK"):
        WebhookSettings.from_env({"WEBHOOK_ALLOW_LOOPBACK": "true", "STORYIMAGES_ENV": "staging"})
    assert WebhookSettings.from_env({"WEBHOOK_ALLOW_LOOPBACK": "true", "STORYIMAGES_ENV": "local"}).allow_loopback


def test_given_defaults_outside_the_allowed_lists_when_configured_then_they_are_allowed_too() -> None:
    config = StartSettings.from_env(
        {"STATE_MACHINE_ARN": "a", "WEBHOOK_STATE_MACHINE_ARN": "w", "ALLOWED_IMAGE_SIZES": "512x512"}
    ).generation(ImageSettings.from_env({}))

    assert config.limits.sizes == ("512x512", "1024x1024")
