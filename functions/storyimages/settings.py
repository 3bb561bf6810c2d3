"""Configuration of each Lambda, read once from the environment at cold start.

A missing or malformed setting fails the cold start with a message naming the variable,
instead of failing the first request halfway through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from storyimages import defaults
from storyimages.domain.jobs import ImageSpec

if TYPE_CHECKING:  # imported where used: the authorizer and task Lambdas never load them
    from storyimages.domain.start_generation import GenerationConfig
    from storyimages.domain.webhooks import WebhookPolicy


class ConfigurationError(RuntimeError):
    pass


class EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        source = dict(os.environ if env is None else env)
        try:
            return cls.model_validate(source)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"invalid {cls.__name__} from the environment: {problems}") from None


LOCAL = "local"


class DeploymentSettings(EnvSettings):
    """Where we run. `local` unlocks development conveniences, and can never be set in AWS Lambda."""

    environment: str = Field(default="production", alias="STORYIMAGES_ENV", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    lambda_execution_env: str | None = Field(default=None, alias="AWS_EXECUTION_ENV")

    @property
    def is_local(self) -> bool:
        return self.environment == LOCAL

    @model_validator(mode="after")
    def _local_stays_local(self) -> Self:
        if self.is_local and (self.lambda_execution_env or "").startswith("AWS_Lambda"):
            raise ValueError("STORYIMAGES_ENV=local is refused inside AWS Lambda")
        return self

    def require_local(self, setting: str) -> None:
        if not self.is_local:
            raise ValueError(f"{setting} is only accepted with STORYIMAGES_ENV=local")


class AuthSettings(DeploymentSettings):
    # Where Firebase Auth publishes the certificates of the keys that sign ID tokens.
    FIREBASE_CERTS_URL: ClassVar[str] = (
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
    )

    project_id: str = Field(alias="FIREBASE_PROJECT_ID", min_length=1)
    # Local mode only: the local stack's certificates, for the development tokens it signs.
    local_certs_url: str | None = Field(default=None, alias="AUTH_LOCAL_CERTS_URL")
    clock_skew_seconds: int = Field(default=0, alias="AUTH_CLOCK_SKEW_SECONDS", ge=0, le=60)
    auth_emulator_host: str | None = Field(default=None, alias="FIREBASE_AUTH_EMULATOR_HOST")

    @model_validator(mode="after")
    def _only_signed_tokens(self) -> Self:
        if self.auth_emulator_host:
            # firebase-admin accepts unsigned tokens when this is set: never, anywhere (the authorizer no
            # longer uses firebase-admin, but no other code may take it as a switch either).
            raise ValueError("FIREBASE_AUTH_EMULATOR_HOST is refused: it makes firebase-admin accept unsigned tokens")
        if self.local_certs_url:
            self.require_local("AUTH_LOCAL_CERTS_URL")
        return self

    @property
    def certs_url(self) -> str:
        """The certificates ID tokens are verified against: Firebase's, or in local mode the local stack's."""
        return self.local_certs_url or self.FIREBASE_CERTS_URL


class ApiSettings(EnvSettings):
    cors_allowed_origins: str = Field(default="", alias="CORS_ALLOWED_ORIGINS")
    max_body_bytes: int = Field(default=16 * 1024, alias="MAX_BODY_BYTES", ge=1024, le=1024 * 1024)

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allowed_origins.split(",") if origin.strip()]


class WebhookSettings(DeploymentSettings):
    allow_loopback: bool = Field(default=False, alias="WEBHOOK_ALLOW_LOOPBACK")

    @model_validator(mode="after")
    def _loopback_only_locally(self) -> Self:
        if self.allow_loopback:
            self.require_local("WEBHOOK_ALLOW_LOOPBACK")
        return self

    def policy(self) -> WebhookPolicy:
        from storyimages.domain.webhooks import WebhookPolicy

        return WebhookPolicy(allow_loopback=self.allow_loopback)


class NotifierSettings(EnvSettings):
    """Where job endings go: the webhook-delivery state machine."""

    state_machine_arn: str = Field(alias="WEBHOOK_STATE_MACHINE_ARN", min_length=1)


class WebhookDeliverySettings(WebhookSettings):
    secret_id: str = Field(alias="WEBHOOK_SECRET_ID", min_length=1)


class FirestoreSettings(EnvSettings):
    project_id: str = Field(alias="FIREBASE_PROJECT_ID", min_length=1)
    credentials_secret_id: str | None = Field(default=None, alias="FIREBASE_CREDENTIALS_SECRET_ID")
    emulator_host: str | None = Field(default=None, alias="FIRESTORE_EMULATOR_HOST")
    stories_collection: str = Field(default="stories", alias="STORIES_COLLECTION")
    jobs_collection: str = Field(default="imageJobs", alias="JOBS_COLLECTION")
    locks_collection: str = Field(default="storyLocks", alias="LOCKS_COLLECTION")
    idempotency_collection: str = Field(default="idempotencyKeys", alias="IDEMPOTENCY_COLLECTION")
    deadline_seconds: float = Field(
        default=defaults.FIRESTORE_TASK_DEADLINE_SECONDS, alias="FIRESTORE_DEADLINE_SECONDS", gt=0, le=60
    )

    @model_validator(mode="after")
    def _credentials_known(self) -> Self:
        if not self.emulator_host and not self.credentials_secret_id:
            raise ValueError("set FIREBASE_CREDENTIALS_SECRET_ID (or FIRESTORE_EMULATOR_HOST for an emulator)")
        return self


class StorageSettings(EnvSettings):
    bucket: str = Field(alias="IMAGES_BUCKET", min_length=3)
    # Each URL stays valid at least this long; it is signed for 1.5 times this (at the start of a
    # window, see S3ImageStorage), and S3 accepts at most 7 days.
    url_expiry_seconds: int = Field(
        default=defaults.IMAGE_URL_EXPIRY_SECONDS, alias="IMAGE_URL_EXPIRY_SECONDS", ge=60, le=4 * 24 * 3600
    )


class ImageSettings(EnvSettings):
    model: str = Field(default=defaults.IMAGE_MODEL, alias="IMAGE_MODEL", min_length=1)
    size: str = Field(default=defaults.IMAGE_SIZE, alias="IMAGE_SIZE", pattern=r"^(auto|\d{2,4}x\d{2,4})$")
    quality: str = Field(default=defaults.IMAGE_QUALITY, alias="IMAGE_QUALITY", min_length=1)

    def spec(self) -> ImageSpec:
        return ImageSpec(model=self.model, size=self.size, quality=self.quality)


class OpenAISettings(EnvSettings):
    api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    api_key_secret_id: str | None = Field(default=None, alias="OPENAI_API_KEY_SECRET_ID")
    base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    timeout_seconds: float = Field(
        default=defaults.openai_timeout_seconds(defaults.IMAGE_TIMEOUT_SECONDS), alias="OPENAI_TIMEOUT_SECONDS", gt=0
    )
    # Step Functions owns retries so that each one shows in the execution history.
    max_retries: int = Field(default=0, alias="OPENAI_MAX_RETRIES", ge=0, le=5)
    input_fidelity: str | None = Field(default=None, alias="OPENAI_INPUT_FIDELITY", pattern="^(high|low)$")

    @model_validator(mode="after")
    def _key_known(self) -> Self:
        if self.api_key is None and not self.api_key_secret_id:
            raise ValueError("set OPENAI_API_KEY_SECRET_ID (or OPENAI_API_KEY)")
        return self


class StartSettings(EnvSettings):
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", min_length=1)
    delay_seconds: int = Field(
        default=defaults.DELAY_SECONDS, alias="DELAY_SECONDS", ge=0, le=defaults.DELAY_SECONDS_LIMIT
    )
    max_concurrency: int = Field(
        default=defaults.MAX_CONCURRENCY, alias="MAX_CONCURRENCY", ge=1, le=defaults.CONCURRENCY_LIMIT
    )
    max_slides: int = Field(default=defaults.MAX_SLIDES, alias="MAX_SLIDES", ge=1, le=defaults.SLIDES_LIMIT)
    seconds_per_image: int = Field(
        default=defaults.ESTIMATED_SECONDS_PER_IMAGE, alias="ESTIMATED_SECONDS_PER_IMAGE", ge=1
    )
    max_delay_seconds: int = Field(
        default=defaults.MAX_DELAY_SECONDS, alias="MAX_DELAY_SECONDS", ge=0, le=defaults.DELAY_SECONDS_LIMIT
    )
    allowed_sizes: str = Field(default=",".join(defaults.ALLOWED_IMAGE_SIZES), alias="ALLOWED_IMAGE_SIZES")
    allowed_qualities: str = Field(default=",".join(defaults.ALLOWED_IMAGE_QUALITIES), alias="ALLOWED_IMAGE_QUALITIES")

    def generation(self, image: ImageSettings, webhooks: WebhookSettings | None = None) -> GenerationConfig:
        """The defaults must be among the allowed values, or every request without options would fail."""
        from storyimages.domain.start_generation import GenerationConfig, OptionLimits
        from storyimages.domain.webhooks import WebhookPolicy

        limits = OptionLimits(
            max_delay_seconds=max(self.max_delay_seconds, self.delay_seconds),
            sizes=tuple(dict.fromkeys([*_listed(self.allowed_sizes), image.size])),
            qualities=tuple(dict.fromkeys([*_listed(self.allowed_qualities), image.quality])),
        )
        return GenerationConfig(
            image=image.spec(),
            delay_seconds=self.delay_seconds,
            max_concurrency=self.max_concurrency,
            max_slides=self.max_slides,
            seconds_per_image=self.seconds_per_image,
            limits=limits,
            webhooks=webhooks.policy() if webhooks else WebhookPolicy(),
        )


def _listed(values: str) -> list[str]:
    return [value.strip() for value in values.split(",") if value.strip()]
