from __future__ import annotations

import pytest

from storyimages.settings import ConfigurationError, FirestoreSettings, ImageSettings, OpenAISettings, StartSettings


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
        StartSettings.from_env({"STATE_MACHINE_ARN": "arn", name: value})
