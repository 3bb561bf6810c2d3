"""The deployment's configuration, from `cdk.json` context (`storyimages`) or `-c` overrides.

Validated once, before any resource is defined, so a typo fails synth with the key's name."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storyimages import defaults

CONTEXT_KEY = "storyimages"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    environment: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,15}$")
    firebase_project_id: str = Field(alias="firebaseProjectId", min_length=1)
    log_level: LogLevel = Field(default=defaults.LOG_LEVEL, alias="logLevel")
    max_concurrency: int = Field(
        default=defaults.MAX_CONCURRENCY, alias="maxConcurrency", ge=1, le=defaults.CONCURRENCY_LIMIT
    )
    delay_seconds: int = Field(
        default=defaults.DELAY_SECONDS, alias="delaySeconds", ge=0, le=defaults.DELAY_SECONDS_LIMIT
    )
    max_delay_seconds: int = Field(
        default=defaults.MAX_DELAY_SECONDS, alias="maxDelaySeconds", ge=0, le=defaults.DELAY_SECONDS_LIMIT
    )
    image_model: str = Field(default=defaults.IMAGE_MODEL, alias="imageModel", min_length=1)
    image_size: str = Field(default=defaults.IMAGE_SIZE, alias="imageSize", pattern=r"^(auto|\d{2,4}x\d{2,4})$")
    image_quality: str = Field(default=defaults.IMAGE_QUALITY, alias="imageQuality", pattern=r"^[a-z]{1,20}$")
    max_slides: int = Field(default=defaults.MAX_SLIDES, alias="maxSlides", ge=1, le=defaults.SLIDES_LIMIT)
    cors_allowed_origins: tuple[str, ...] = Field(default=(), alias="corsAllowedOrigins")
    # The cap on images in flight across all stories: the image queue's maximum concurrency
    # (2-1000, Lambda's bounds), sized from the OpenAI tier (docs/deploy.md). Reserved for the
    # image function too, unless the account's concurrency is too small to reserve from.
    image_concurrency: int = Field(default=5, alias="imageConcurrency", ge=2, le=1000)
    reserve_image_concurrency: bool = Field(default=True, alias="reserveImageConcurrency")
    image_timeout_seconds: int = Field(
        default=defaults.IMAGE_TIMEOUT_SECONDS, alias="imageTimeoutSeconds", ge=60, le=900
    )
    image_retention_days: int = Field(default=90, alias="imageRetentionDays", ge=1)
    log_retention_days: int = Field(default=30, alias="logRetentionDays", ge=1)
    api_throttle_rate_limit: int = Field(default=20, alias="apiThrottleRateLimit", ge=1)
    api_throttle_burst_limit: int = Field(default=40, alias="apiThrottleBurstLimit", ge=1)
    alarm_email: str | None = Field(default=None, alias="alarmEmail")
    removal_policy: Literal["retain", "destroy"] = Field(default="retain", alias="removalPolicy")

    @model_validator(mode="after")
    def _deployable(self) -> StackConfig:
        if self.delay_seconds > self.max_delay_seconds:
            raise ValueError("delaySeconds is larger than maxDelaySeconds")
        if self.environment == "local":
            # STORYIMAGES_ENV=local is the local stack's; every Lambda would refuse to start.
            raise ValueError("environment `local` is reserved for the local stack")
        return self

    @classmethod
    def from_context(cls, context: Any) -> StackConfig:
        try:
            return cls.model_validate(context or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise SystemExit(f"invalid `{CONTEXT_KEY}` context in cdk.json: {problems}") from None
