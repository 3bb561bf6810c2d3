"""Images from the OpenAI Images API: `generate` for a slide on its own, `edit` with the
reference image for the others. GPT image models answer with base64 only."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Mapping
from functools import cached_property, partial
from typing import Any

import openai

from storyimages.adapters.secrets import secret_string
from storyimages.business_metrics import Metric
from storyimages.domain.errors import (
    ImageGenerationError,
    ImageRateLimited,
    ImageRejected,
    ImageServiceMisconfigured,
    ImageServiceUnavailable,
    ImageTimedOut,
)
from storyimages.domain.ports import GeneratedImage, ImageRequest
from storyimages.observability import milliseconds, tracer
from storyimages.settings import OpenAISettings


class OpenAIImageGenerator:
    def __init__(self, settings: OpenAISettings, *, client: openai.OpenAI | None = None) -> None:
        self._settings = settings
        self._injected = client

    @cached_property
    def _openai(self) -> openai.OpenAI:
        if self._injected is not None:
            return self._injected
        settings = self._settings
        if settings.api_key is not None:
            key: str | Callable[[], str] = settings.api_key.get_secret_value()
        else:
            assert settings.api_key_secret_id  # OpenAISettings insists on one of the two
            # The SDK asks a callable key before each request: a rotated key is used within the
            # secret's max age, by the same client.
            key = partial(secret_string, settings.api_key_secret_id)
        return openai.OpenAI(
            api_key=key,
            base_url=settings.base_url,
            timeout=settings.timeout_seconds,
            max_retries=settings.max_retries,
        )

    @tracer.capture_method
    def generate(self, request: ImageRequest) -> GeneratedImage:
        spec = request.spec
        common: dict[str, Any] = {
            "model": spec.model,
            "prompt": request.prompt,
            "size": spec.size,
            "quality": spec.quality,
            "output_format": spec.format,
            "n": 1,
        }
        asked, timed = time.monotonic(), True
        try:
            if request.reference is None:
                response = self._openai.images.generate(**common)
            else:
                if self._settings.input_fidelity:
                    common["input_fidelity"] = self._settings.input_fidelity
                reference = ("reference.png", request.reference, "image/png")
                response = self._openai.images.edit(image=[reference], **common)
        except openai.APIError as exc:
            # A rate limit is refused before any work (it is counted, not timed); a timeout or an
            # outage is the provider's time all the same, and the slowest that users wait.
            timed = not isinstance(exc, openai.RateLimitError)
            raise _translate(exc, self._settings.timeout_seconds) from exc
        finally:
            if timed:
                milliseconds(Metric.IMAGE_LATENCY, time.monotonic() - asked)
        if not response.data or not response.data[0].b64_json:
            raise ImageServiceUnavailable("the image service answered without image data")
        return GeneratedImage(data=base64.b64decode(response.data[0].b64_json), model=spec.model)


def _translate(exc: openai.APIError, timeout_seconds: float) -> ImageGenerationError:
    if isinstance(exc, openai.RateLimitError):
        retry_after = _retry_after_seconds(exc.response.headers)
        hint = f" (retry after {retry_after:g}s)" if retry_after is not None else ""
        return ImageRateLimited(
            f"rate limited by the image service{hint}: {_detail(exc)}", retry_after_seconds=retry_after
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError | openai.NotFoundError):
        return ImageServiceMisconfigured(f"the image service refused our credentials or model: {_detail(exc)}")
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
        return ImageRejected(f"the image service rejected the request: {_detail(exc)}")
    if isinstance(exc, openai.APITimeoutError):
        return ImageTimedOut(
            f"the image service did not answer within {timeout_seconds:g} s; it may still have made the image,"
            " so it is not asked again automatically: retry the job to try once more"
        )
    if isinstance(exc, openai.APIConnectionError):
        return ImageServiceUnavailable(f"could not reach the image service: {exc}")
    return ImageServiceUnavailable(f"the image service failed: {_detail(exc)}")


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """What the 429 asks us to wait: `retry-after-ms` (milliseconds, which OpenAI's SDK also
    reads first), else `retry-after` in seconds; None when neither is a usable number. (An
    HTTP-date `retry-after` is not parsed: OpenAI sends seconds.)"""
    for name, per_second in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            return value / per_second
    return None


def _detail(exc: openai.APIError) -> str:
    code = getattr(exc, "code", None)
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") or exc.message
    return f"{code}: {message}" if code else str(message)
