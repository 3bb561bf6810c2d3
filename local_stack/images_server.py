"""A local stand-in for the OpenAI Images API, for tests and the demo.

It speaks the protocol the `openai` SDK speaks: `POST /v1/images/generations` (JSON) and
`POST /v1/images/edits` (multipart, images under `image[]` or `image`, an optional `mask`),
bearer-token auth, and OpenAI-shaped errors (`{"error": {"message", "type", "param", "code"}}`).
Answers are real images drawn by `local_stack.scene`, deterministic for a prompt and its
reference images, so a test can assert on bytes.

Requests are validated the way the configured model validates them, from one rule table per
model family (`MODEL_FAMILIES`; adding a model is one entry). For the gpt-image-2 family:
`model` must name a known model; parameters the endpoint does not take (and the legacy
`response_format` and `style`) are refused as `Unknown parameter: 'x'.`; `size` is `auto` or
WIDTHxHEIGHT with both sides multiples of 16, long side / short side <= 3, long side <= 3840
and 655,360 <= pixels <= 8,294,400 (3840x2160); `quality` low/medium/high/auto; `background`
transparent/opaque/auto, transparent only with png or webp; `output_format` png/jpeg/webp;
`output_compression` an integer 0-100, below 100 only for jpeg/webp; `n` 1-10; `moderation`
(generations) auto/low; `input_fidelity` (edits) refused, as gpt-image-2 takes none;
`partial_images` 0-3, above 0 only with `stream`; an edit's `mask` must be one PNG the size of
the first image (it is then ignored: scenes are drawn, not edited). A null is an omitted
value, as in OpenAI's API, except for a parameter the endpoint does not take.

What is asked for is done: `background="transparent"` returns an RGBA image whose backdrop
has alpha 0; `output_compression` is the JPEG / WebP encoder quality (OpenAI's default is
100); the answer's `background`, `output_format`, `quality` and `size` say what was made.
`stream=True` answers with server-sent events as OpenAI sends them (`event: <type>` and
`data: <json>`): for each image, `partial_images` coarser previews as
`image_generation.partial_image` events (edits: `image_edit.partial_image`) with
`partial_image_index` from 0, then `image_generation.completed` (`image_edit.completed`) with
the final image, the same bytes as without streaming, and `usage`.

Tests steer it over HTTP (so a test in another thread or process can) or from Python:

- `POST /_control/faults` `{"faults": [rule, ...]}` replaces the fault rules; `GET` lists them
  (`set_faults(rules, seed=)`).
- `POST /_control/limits` `{"imagesPerMinute": n|null, "burst": b|null}` sets the provider
  limit (`set_limits`); `GET` says what it is, the tokens left and how many requests it refused.
- `POST /_control/latency` `{"medianSeconds": L|null, "spread": s, "capSeconds": c|null,
  "seed": k}` sets how long each image takes (`set_latency`); `GET` says what it is.
- `POST /_control/reset` clears the rules, the limit, the latency and the request log.
- `GET /_control/requests` returns the request log.

A rule is `{"kind": "rate_limit"|"server_error"|"slow"|"reject", "match": str|null,
"times": int|null, "probability": 0-1 (default 1), "retryAfter": seconds|null (rate_limit;
default 1, null sends no header), "seconds": delay (slow; default 1)}`. Each image request
walks the rules in order; a rule whose `match` is a substring of the prompt (null matches any),
that has times left and whose draw (seeded) falls under its probability fires and uses one up.
The request log says how long `slow` rules and the latency held each request (`heldSeconds`): a
request held past the client's timeout was still answered, as OpenAI finishes (and bills) an
image whose client gave up. `slow` waits and walks on; the others answer at once, before the
limit is consulted (a fault's 429 takes no tokens). Whatever the rules, a prompt containing
`CONTENT_POLICY_MARKER` is refused the way OpenAI's safety system refuses (after the limit:
the refused request used its tokens). Faults, limits and refusals answer before a stream
starts, with an HTTP status, as OpenAI's do.

The limit is OpenAI's images per minute (IPM), as a token bucket: it holds `burst` images
(default: a minute's worth, at least 1) and refills continuously at imagesPerMinute / 60 per
second. A request that passed auth and validation takes `n` tokens; when fewer are left it is
answered 429 as OpenAI answers a rate limit (type `requests`, code `rate_limit_exceeded`, "Rate
limit reached for <model> in organization org-local on images per minute (IPM): Limit L, Used
U, Requested R. Please try again in 1.5s. ...") with `retry-after` (whole seconds, rounded up)
and `retry-after-ms` (milliseconds, which the `openai` SDK prefers). While a limit is set every
answer carries `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests` and
`x-ratelimit-reset-requests` (the time until the bucket is full, written as OpenAI writes it:
`250ms`, `12s`, `1m3s`). A request for more images than the bucket holds is refused with 429
and no `retry-after`, as waiting would not help. The bucket reads an injectable monotonic
clock (`ImagesApp(monotonic=...)`), so a test can move time on without sleeping.

The latency is a seeded log-normal draw per admitted request (median `medianSeconds`, sigma
`spread`: most answers near the median, a long right tail), capped at `capSeconds` if given;
the request is answered that long after it was admitted, the drawing of the image included
(a safety refusal answers at once). The
log records the draw (`latencySeconds`, 0 when none was drawn) and adds the hold to
`heldSeconds`; `holding()` counts the requests held now, and `release_held_requests()` or a
reset lets them go on, as for the `slow` rule, which still holds on top (before validation).

Unlike OpenAI: no upload size limits; the only provider limit is images per minute (no
requests- or tokens-per-minute limits, no `x-ratelimit-*-tokens` headers); the organization is
always `org-local`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from local_stack.http_server import BackgroundServer
from local_stack.scene import RenderedScene, render_scene

CONTENT_POLICY_MARKER = "[content-policy-violation]"
# The smallest 16:10 size gpt-image-2 draws (655,360 pixels, its floor): quick to render, for
# tests and benchmarks that want real answers without paying for big images.
QUICK_SIZE = "1024x640"
FAULT_KINDS = ("rate_limit", "server_error", "slow", "reject")
# The organization a rate-limit message names.
ORGANIZATION = "org-local"
REFERENCE_FORMATS = ("PNG", "JPEG", "WEBP")

# Output tokens OpenAI bills for a 1024x1024 image at each quality; other sizes scale by area.
_OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
_TOKENS_PER_REFERENCE = 194
# "Each partial image will incur an additional 100 image output tokens" (OpenAI's guide).
_TOKENS_PER_PARTIAL_IMAGE = 100

# What each endpoint takes (the SDK's `images.generate` / `images.edit` arguments). Multipart
# names are read without their brackets: `image[]` is `image`, `svg[model]` is `svg`.
GENERATION_PARAMETERS = frozenset(
    {
        "background",
        "complexity",
        "frame_count",
        "frame_duration_ms",
        "model",
        "moderation",
        "n",
        "output_compression",
        "output_format",
        "partial_images",
        "prompt",
        "quality",
        "response_format",
        "safety_identifier",
        "size",
        "stream",
        "style",
        "svg",
        "user",
    }
)
EDIT_PARAMETERS = (GENERATION_PARAMETERS - {"moderation", "style"}) | {
    "image",
    "images",
    "input_fidelity",
    "markup",
    "mask",
}


class ApiError(Exception):
    """An answer in OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = error_type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return _json_response(body, self.status, self.headers)


def content_policy_error() -> ApiError:
    return ApiError(
        400,
        "Your request was rejected by the safety system. If you believe this is an error, contact us at "
        "help.openai.com and include the request ID.",
        error_type="image_generation_user_error",
        code="content_policy_violation",
    )


@dataclass
class FaultRule:
    """One fault rule; `times` counts down as the rule fires (None never runs out)."""

    kind: str
    match: str | None = None
    times: int | None = None
    retry_after: float | None = 1.0
    seconds: float = 1.0
    probability: float = 1.0

    @classmethod
    def parse(cls, raw: Any) -> FaultRule:
        """A rule from its JSON form; ValueError names what is wrong with it."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"a fault rule is a JSON object, not {raw!r}")
        kind = raw.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
        allowed = {"kind", "match", "times", "probability"} | {"rate_limit": {"retryAfter"}, "slow": {"seconds"}}.get(
            kind, set()
        )
        # Unknown keys are refused so that a typo ("retry_after") fails loudly instead of being ignored.
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ValueError(f"unknown keys for a {kind} rule: {', '.join(unknown)}")
        match = raw.get("match")
        if match is not None and not isinstance(match, str):
            raise ValueError("match must be a string or null")
        times = raw.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 0):
            raise ValueError("times must be a non-negative integer or null")
        retry_after = raw.get("retryAfter", 1.0)
        retry_after = None if retry_after is None else _seconds(retry_after, "retryAfter")
        seconds = _seconds(raw.get("seconds", 1.0), "seconds")
        probability = raw.get("probability", 1.0)
        if isinstance(probability, bool) or not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise ValueError("probability must be a number from 0 to 1")
        return cls(
            kind=kind, match=match, times=times, retry_after=retry_after, seconds=seconds, probability=probability
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"kind": self.kind, "match": self.match, "times": self.times}
        if self.probability != 1.0:
            document["probability"] = self.probability
        if self.kind == "rate_limit":
            document["retryAfter"] = self.retry_after
        if self.kind == "slow":
            document["seconds"] = self.seconds
        return document

    def take(self, prompt: str, chance: random.Random) -> bool:
        """Whether the rule fires for `prompt`, using up one of its times if so. Call under the lock."""
        if self.match is not None and self.match not in prompt:
            return False
        if self.probability < 1.0 and chance.random() >= self.probability:
            return False
        if self.times is not None:
            if self.times <= 0:
                return False
            self.times -= 1
        return True

    def error(self) -> ApiError:
        if self.kind == "rate_limit":
            message = "Rate limit reached for images per minute."
            headers = {}
            if self.retry_after is not None:
                message += f" Please try again in {_format_seconds(self.retry_after)}s."
                headers["retry-after"] = _format_seconds(self.retry_after)
            return ApiError(
                429,
                message,
                error_type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        if self.kind == "server_error":
            return ApiError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                error_type="server_error",
                code="server_error",
            )
        return content_policy_error()


# ---------------------------------------------------------------------------------------------
# The provider limit and the latency


class TokenBucket:
    """Images per minute as OpenAI meters them: `capacity` tokens, refilled continuously at
    `per_minute / 60` a second, one token per image. Not thread-safe: the app holds its lock."""

    def __init__(self, per_minute: float, capacity: float, now: float) -> None:
        self.per_minute = per_minute
        self.capacity = capacity
        self.tokens = capacity
        self._updated = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self._updated) * self.per_minute / 60)
        self._updated = now

    def has(self, requested: int) -> bool:
        # A float refill can land a hair under a whole token at the moment it is due.
        return self.tokens + 1e-9 >= requested

    def seconds_until(self, tokens: float) -> float:
        """How long until the bucket holds `tokens` (0 if it does)."""
        return max(0.0, tokens - self.tokens) * 60 / self.per_minute

    def used(self) -> int:
        return max(0, math.ceil(self.capacity - self.tokens - 1e-9))

    def headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*-requests` headers for the bucket as it is now."""
        return {
            "x-ratelimit-limit-requests": _format_number(self.per_minute),
            "x-ratelimit-remaining-requests": str(max(0, math.floor(self.tokens + 1e-9))),
            "x-ratelimit-reset-requests": format_duration(self.seconds_until(self.capacity)),
        }

    def refusal(self, model: str, requested: int) -> ApiError:
        """The 429 for a request the bucket cannot serve now (or, too large, ever)."""
        limit = f"in organization {ORGANIZATION} on images per minute (IPM): Limit {_format_number(self.per_minute)}"
        if requested > self.capacity + 1e-9:
            return ApiError(
                429,
                f"Request too large for {model} {limit}, Requested {requested}. The bucket holds at most "
                f"{_format_number(self.capacity)} images: ask for fewer at once.",
                error_type="requests",
                code="rate_limit_exceeded",
            )
        wait = self.seconds_until(requested)
        return ApiError(
            429,
            f"Rate limit reached for {model} {limit}, Used {self.used()}, Requested {requested}. "
            f"Please try again in {format_duration(wait)}. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            error_type="requests",
            code="rate_limit_exceeded",
            headers={
                "retry-after": str(max(1, math.ceil(wait - 1e-9))),
                # Milliseconds: the SDK reads this before `retry-after` and divides it by 1000.
                "retry-after-ms": str(max(1, math.ceil(wait * 1000 - 1e-6))),
            },
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "imagesPerMinute": self.per_minute,
            "burst": self.capacity,
            "tokens": round(self.tokens, 3),
        }


@dataclass(frozen=True)
class Latency:
    """How long an image takes: log-normal, median `median_seconds`, sigma `spread`, at most
    `cap_seconds` when set."""

    median_seconds: float
    spread: float = 0.5
    cap_seconds: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if _not_number(self.median_seconds) or self.median_seconds <= 0:
            raise ValueError("medianSeconds must be a positive number of seconds, or null for no latency")
        if _not_number(self.spread) or self.spread < 0:
            raise ValueError("spread must be a non-negative number (the log-normal's sigma)")
        if self.cap_seconds is not None and (_not_number(self.cap_seconds) or self.cap_seconds < 0):
            raise ValueError("capSeconds must be a non-negative number of seconds, or null for no cap")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError("seed must be an integer")

    def draw(self, chance: random.Random) -> float:
        seconds = (
            chance.lognormvariate(math.log(self.median_seconds), self.spread) if self.spread else self.median_seconds
        )
        return seconds if self.cap_seconds is None else min(seconds, self.cap_seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "medianSeconds": self.median_seconds,
            "spread": self.spread,
            "capSeconds": self.cap_seconds,
            "seed": self.seed,
        }


_NO_LATENCY: dict[str, Any] = {"medianSeconds": None, "spread": None, "capSeconds": None, "seed": None}


# ---------------------------------------------------------------------------------------------
# Model families


@dataclass(frozen=True)
class SizeRules:
    """Which `size` values a family takes: `auto`, and WIDTHxHEIGHT within these limits (or,
    when `listed` is set, only the listed sizes)."""

    multiple_of: int = 16
    max_aspect_ratio: int = 3
    max_edge: int = 3840
    min_pixels: int = 655_360
    max_pixels: int = 3840 * 2160
    auto: tuple[int, int] = (1024, 1024)
    listed: tuple[str, ...] = ()

    def parse(self, raw: Any) -> tuple[int, int]:
        """The (width, height) that `raw` asks for; ApiError (param `size`) when it is not valid."""
        if raw is None or raw == "auto":
            return self.auto
        if not isinstance(raw, str):
            raise _invalid_type("size", "a string", raw)
        found = re.fullmatch(r"(\d{1,5})x(\d{1,5})", raw)
        if found is None:
            raise _invalid_size(raw, "Expected 'auto' or WIDTHxHEIGHT, for example '1536x864'.")
        width, height = int(found[1]), int(found[2])
        if self.listed:
            if raw not in self.listed:
                raise _invalid_size(raw, f"Supported sizes are {_quoted(('auto', *self.listed), 'and')}.")
            return width, height
        long, short, pixels = max(width, height), min(width, height), width * height
        if short == 0:
            raise _invalid_size(raw, "Width and height must be positive.")
        if width % self.multiple_of or height % self.multiple_of:
            raise _invalid_size(raw, f"Width and height must both be divisible by {self.multiple_of}.")
        if long > self.max_edge:
            raise _invalid_size(raw, f"The longest edge must be at most {self.max_edge}px.")
        if long > self.max_aspect_ratio * short:
            raise _invalid_size(raw, f"The long edge to short edge ratio must not exceed {self.max_aspect_ratio}:1.")
        if pixels > self.max_pixels:
            raise _invalid_size(raw, f"Total pixels must be no more than {self.max_pixels:,}.")
        if pixels < self.min_pixels:
            raise _invalid_size(raw, f"Total pixels must be at least {self.min_pixels:,}.")
        return width, height


@dataclass(frozen=True)
class ModelFamily:
    """What the models of one family accept. `models` is a regular expression that the whole
    model name must match; the first family in `MODEL_FAMILIES` that matches decides."""

    name: str
    models: str
    sizes: SizeRules = SizeRules()
    qualities: tuple[str, ...] = ("low", "medium", "high", "auto")
    # What `quality="auto"` becomes in the answer.
    auto_quality: str = "medium"
    backgrounds: tuple[str, ...] = ("transparent", "opaque", "auto")
    transparent_formats: tuple[str, ...] = ("png", "webp")
    output_formats: tuple[str, ...] = ("png", "jpeg", "webp")
    # Formats whose `output_compression` may be below 100 (PNG is lossless).
    lossy_formats: tuple[str, ...] = ("jpeg", "webp")
    moderations: tuple[str, ...] = ("low", "auto")
    complexities: tuple[str, ...] = ("low", "medium", "high")
    # Empty: the model takes no `input_fidelity` at all (gpt-image-2 always uses high fidelity).
    input_fidelities: tuple[str, ...] = ()
    markup: bool = False
    max_n: int = 10
    max_partial_images: int = 3
    max_references: int = 16
    max_prompt_chars: int = 32_000
    # Parameters of retired models that these models answer as unknown.
    legacy_parameters: frozenset[str] = frozenset({"response_format", "style"})

    def takes(self, model: str) -> bool:
        return re.fullmatch(self.models, model) is not None


_SNAPSHOT = r"(-\d{4}-\d{2}-\d{2})?"
# Sources: OpenAI's image generation guide (developers.openai.com/api/docs/guides/image-generation:
# size constraints, input_fidelity, compression) and the openai SDK's parameter documentation
# (transparent backgrounds "in preview" for gpt-image-2; xhigh/max and markup for 2.5).
GPT_IMAGE_2 = ModelFamily(
    name="gpt-image-2",
    models=rf"gpt-image-2{_SNAPSHOT}|gpt-image-2\.6-[a-z]+{_SNAPSHOT}",
)
MODEL_FAMILIES: tuple[ModelFamily, ...] = (
    GPT_IMAGE_2,
    # The SDK documents `xhigh` and `max` qualities and `markup` edits for the 2.5 models.
    dataclasses.replace(
        GPT_IMAGE_2,
        name="gpt-image-2.5",
        models=rf"gpt-image-2\.5-[a-z]+{_SNAPSHOT}",
        qualities=("low", "medium", "high", "xhigh", "max", "auto"),
        markup=True,
    ),
)


@dataclass(frozen=True)
class ImageCall:
    """A validated image request, with every `auto` resolved to what will be made."""

    endpoint: str
    model: str
    prompt: str
    size: tuple[int, int]
    quality: str
    n: int
    output_format: str
    background: str
    # The JPEG / WebP encoder quality: `output_compression`, 100 (OpenAI's default) when omitted.
    compression: int = 100
    stream: bool = False
    partial_images: int = 0
    references: tuple[bytes, ...] = ()
    safety_identifier: str | None = None

    @property
    def event_prefix(self) -> str:
        return "image_generation" if self.endpoint == "generations" else "image_edit"


class ImagesApp:
    """The WSGI application. Thread-safe: werkzeug serves each request on its own thread."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        families: Sequence[ModelFamily] = MODEL_FAMILIES,
    ) -> None:
        self._clock = clock
        # What the images-per-minute bucket refills by; a test may pass one it moves by hand.
        self._monotonic = monotonic
        self._families = tuple(families)
        self._lock = threading.Lock()
        self._faults: list[FaultRule] = []
        self._log: list[dict[str, Any]] = []
        self._holding = 0  # requests a `slow` rule or the latency holds right now
        # Rules with a probability draw from this; seeded, so a run with the same requests repeats.
        self._chance = random.Random(0)
        self._bucket: TokenBucket | None = None
        self._rate_limited = 0  # requests the bucket refused since the limit was set
        self._latency: Latency | None = None
        self._latency_chance = random.Random(0)
        # A reset wakes requests held by a `slow` rule and keeps them out of the fresh log.
        self._generation = 0
        self._wake = threading.Event()
        self._routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/v1/images/generations": {"POST": lambda r: self._images(r, "generations")},
            "/v1/images/edits": {"POST": lambda r: self._images(r, "edits")},
            "/_control/requests": {"GET": lambda _: _json_response(self.requests())},
            "/_control/faults": {
                "GET": lambda _: _json_response({"faults": self.faults()}),
                "POST": self._post_faults,
            },
            "/_control/limits": {
                "GET": lambda _: _json_response(self.limits()),
                "POST": self._post_limits,
            },
            "/_control/latency": {
                "GET": lambda _: _json_response(self.latency()),
                "POST": self._post_latency,
            },
            "/_control/reset": {"POST": self._post_reset},
        }

    # -- Python control ---------------------------------------------------------------------

    def set_faults(self, rules: Iterable[Any], *, seed: int = 0) -> None:
        """Replace the fault rules (each in its JSON form). ValueError for an invalid rule."""
        parsed = [FaultRule.parse(rule) for rule in rules]
        with self._lock:
            self._faults = parsed
            self._chance = random.Random(seed)

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._faults]

    def set_limits(self, images_per_minute: float | None, burst: int | None = None) -> None:
        """Limit images per minute with a token bucket of `burst` images (default: a minute's
        worth, at least 1), full now; None lifts the limit. ValueError for invalid values."""
        if images_per_minute is None:
            if burst is not None:
                raise ValueError("burst needs imagesPerMinute")
            with self._lock:
                self._bucket, self._rate_limited = None, 0
            return
        if _not_number(images_per_minute) or not 0 < images_per_minute < math.inf:
            raise ValueError("imagesPerMinute must be a positive number, or null for no limit")
        if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst < 1):
            raise ValueError("burst must be a positive integer, or null for a minute's worth")
        capacity = float(burst) if burst is not None else max(1.0, float(images_per_minute))
        with self._lock:
            self._bucket = TokenBucket(float(images_per_minute), capacity, self._monotonic())
            self._rate_limited = 0

    def limits(self) -> dict[str, Any]:
        """The limit (`imagesPerMinute`, `burst`), the `tokens` left now (all None without a
        limit) and how many requests it answered 429 since it was set (`rateLimited`)."""
        with self._lock:
            if self._bucket is None:
                state: dict[str, Any] = {"imagesPerMinute": None, "burst": None, "tokens": None}
            else:
                self._bucket.refill(self._monotonic())
                state = self._bucket.to_json()
            return {**state, "rateLimited": self._rate_limited}

    def set_latency(
        self,
        median_seconds: float | None,
        spread: float = 0.5,
        cap_seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        """Hold each admitted image request for a seeded log-normal draw (median
        `median_seconds`, sigma `spread`), at most `cap_seconds`; None: answer at once."""
        latency = None if median_seconds is None else Latency(median_seconds, spread, cap_seconds, seed)
        with self._lock:
            self._latency = latency
            self._latency_chance = random.Random(seed)

    def latency(self) -> dict[str, Any]:
        with self._lock:
            return dict(_NO_LATENCY) if self._latency is None else self._latency.to_json()

    def reset(self) -> None:
        """Back to a fresh server: no rules, no limit, no latency, an empty log; held requests go on."""
        with self._lock:
            self._faults = []
            self._log = []
            self._bucket, self._rate_limited = None, 0
            self._latency = None
            self._generation += 1
            self._release_held_requests_locked()

    def holding(self) -> int:
        """How many requests a `slow` rule or the latency holds right now."""
        with self._lock:
            return self._holding

    def release_held_requests(self) -> None:
        """Let requests held by a `slow` rule or the latency go on now."""
        with self._lock:
            self._release_held_requests_locked()

    def _release_held_requests_locked(self) -> None:
        self._wake.set()
        self._wake = threading.Event()

    def requests(self) -> list[dict[str, Any]]:
        """Every image request so far, oldest first (copies)."""
        with self._lock:
            return [{**entry, "referenceSha256": list(entry["referenceSha256"])} for entry in self._log]

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self._dispatch(Request(environ))
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _dispatch(self, request: Request) -> Response:
        methods = self._routes.get(request.path)
        if methods is None:
            return ApiError(404, f"Invalid URL ({request.method} {request.path})").response()
        handler = methods.get(request.method)
        if handler is None:
            return ApiError(405, f"Method {request.method} not allowed for {request.path}").response()
        return handler(request)

    def _post_reset(self, _: Request) -> Response:
        self.reset()
        return _json_response({"reset": True})

    def _post_faults(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("faults"), list):
            return ApiError(400, 'send {"faults": [rule, ...]}', param="faults").response()
        try:
            self.set_faults(body["faults"])
        except ValueError as exc:
            return ApiError(400, str(exc), param="faults").response()
        return _json_response({"faults": self.faults()})

    def _post_limits(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or "imagesPerMinute" not in body or set(body) - {"imagesPerMinute", "burst"}:
            usage = 'send {"imagesPerMinute": n|null, "burst": b|null}'
            return ApiError(400, usage, param="imagesPerMinute").response()
        try:
            self.set_limits(body["imagesPerMinute"], body.get("burst"))
        except ValueError as exc:
            return ApiError(400, str(exc), param="imagesPerMinute").response()
        return _json_response(self.limits())

    def _post_latency(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        keys = {"medianSeconds", "spread", "capSeconds", "seed"}
        if not isinstance(body, dict) or "medianSeconds" not in body or set(body) - keys:
            return ApiError(
                400, 'send {"medianSeconds": L|null, "spread": s, "capSeconds": c|null, "seed": k}', param="latency"
            ).response()
        try:
            self.set_latency(
                body["medianSeconds"], body.get("spread", 0.5), body.get("capSeconds"), body.get("seed", 0)
            )
        except ValueError as exc:
            return ApiError(400, str(exc), param="latency").response()
        return _json_response(self.latency())

    # -- the Images API ---------------------------------------------------------------------

    def _images(self, request: Request, endpoint: str) -> Response:
        with self._lock:
            generation, wake = self._generation, self._wake
        body = _read_body(request, endpoint)
        fields = body.fields
        images = body.files.get("image", [])
        entry: dict[str, Any] = {
            "endpoint": endpoint,
            "model": fields.get("model"),
            "prompt": fields.get("prompt"),
            "size": fields.get("size"),
            "quality": fields.get("quality"),
            "n": _maybe_int(fields.get("n")),
            "referenceSha256": [hashlib.sha256(image).hexdigest() for image in images],
            "status": None,
            "at": self._clock(),
            "heldSeconds": 0.0,  # how long `slow` rules and the latency held it before it was answered
            "latencySeconds": 0.0,  # the latency drawn for it (0: none drawn)
        }
        try:
            _authorize(request)
            if body.error is not None:
                raise body.error
            prompt = fields.get("prompt")
            entry["heldSeconds"] = self._apply_faults(prompt if isinstance(prompt, str) else "", wake)
            call = _validate(endpoint, body, self._families)
            self._admit(call)
            if CONTENT_POLICY_MARKER in call.prompt:
                raise content_policy_error()
            with self._lock:
                latency = 0.0 if self._latency is None else self._latency.draw(self._latency_chance)
            # The provider's latency includes drawing the image: draw it, then hold what is left.
            began = time.monotonic()
            answer = None if call.stream else self._answer(call)
            if latency > 0:
                entry["latencySeconds"] = latency
                self._hold(max(0.0, latency - (time.monotonic() - began)), wake)
                entry["heldSeconds"] += time.monotonic() - began
            response = self._stream(call) if answer is None else _json_response(answer)
        except ApiError as error:
            response = error.response()
        response.headers["x-request-id"] = f"req_{uuid.uuid4().hex}"
        with self._lock:
            if self._bucket is not None:
                self._bucket.refill(self._monotonic())
                response.headers.update(self._bucket.headers())
        entry["status"] = response.status_code
        with self._lock:
            if generation == self._generation:
                self._log.append(entry)
        return response

    def _apply_faults(self, prompt: str, wake: threading.Event) -> float:
        """Apply the rules (raising the first fault that fires); the seconds `slow` rules held it."""
        with self._lock:
            rules = self._faults
        held = 0.0
        for rule in rules:
            with self._lock:
                fired = rule.take(prompt, self._chance)
            if not fired:
                continue
            if rule.kind == "slow":
                held += self._hold(rule.seconds, wake)
                continue
            raise rule.error()
        return held

    def _admit(self, call: ImageCall) -> None:
        """Take the call's images from the bucket, or raise the 429 OpenAI answers when it is short."""
        with self._lock:
            bucket = self._bucket
            if bucket is None:
                return
            bucket.refill(self._monotonic())
            if not bucket.has(call.n):
                self._rate_limited += 1
                raise bucket.refusal(call.model, call.n)
            bucket.tokens -= call.n

    def _hold(self, seconds: float, wake: threading.Event) -> float:
        """Wait `seconds` (or until a release or reset wakes it), counted in `holding()`; the seconds waited."""
        began = time.monotonic()
        with self._lock:
            self._holding += 1
        try:
            wake.wait(seconds)
        finally:
            with self._lock:
                self._holding -= 1
        return time.monotonic() - began

    def _answer(self, call: ImageCall) -> dict[str, Any]:
        data = [{"b64_json": _b64(_render(call, variant), call)} for variant in range(call.n)]
        width, height = call.size
        answer: dict[str, Any] = {
            "created": int(self._clock()),
            "data": data,
            "background": call.background,
            "output_format": call.output_format,
            "size": f"{width}x{height}",
            "quality": call.quality,
            "usage": _usage(call, images=call.n, with_input=True),
        }
        if call.safety_identifier is not None:
            answer["safety_identifier"] = call.safety_identifier
        return answer

    def _stream(self, call: ImageCall) -> Response:
        """Server-sent events, as OpenAI streams an image: for each image its partial images, then
        the completed image. Each image is drawn only when the stream reaches it."""

        def events() -> Iterator[bytes]:
            width, height = call.size
            settings = {
                "size": f"{width}x{height}",
                "quality": call.quality,
                "background": call.background,
                "output_format": call.output_format,
            }
            for variant in range(call.n):
                scene = _render(call, variant)
                for index in range(call.partial_images):
                    yield _sse(
                        {
                            "type": f"{call.event_prefix}.partial_image",
                            "b64_json": _b64(_partial(scene, index, call.partial_images), call),
                            "created_at": int(self._clock()),
                            **settings,
                            "partial_image_index": index,
                        }
                    )
                completed: dict[str, Any] = {
                    "type": f"{call.event_prefix}.completed",
                    "b64_json": _b64(scene, call),
                    "created_at": int(self._clock()),
                    **settings,
                    # The request's input tokens count once, on its first image.
                    "usage": _usage(call, images=1, with_input=variant == 0),
                }
                if call.safety_identifier is not None:
                    completed["safety_identifier"] = call.safety_identifier
                yield _sse(completed)

        return Response(events(), status=200, mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})


class ImagesServer:
    """The app served on 127.0.0.1 in a background thread. `url` has no `/v1`; `api_url` has."""

    def __init__(self, port: int = 0, *, app: ImagesApp | None = None) -> None:
        self.app = app or ImagesApp()
        self._server = BackgroundServer(self.app, port=port, name="openai-images")

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def api_url(self) -> str:
        return f"{self._server.url}/v1"

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> ImagesServer:
        self._server.start()
        return self

    def stop(self) -> None:
        # Requests held by a `slow` rule would otherwise outlive the server by their delay.
        self.app.release_held_requests()
        self._server.stop()

    def __enter__(self) -> ImagesServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def set_faults(self, rules: Iterable[Any], *, seed: int = 0) -> None:
        self.app.set_faults(rules, seed=seed)

    def faults(self) -> list[dict[str, Any]]:
        return self.app.faults()

    def set_limits(self, images_per_minute: float | None, burst: int | None = None) -> None:
        self.app.set_limits(images_per_minute, burst)

    def limits(self) -> dict[str, Any]:
        return self.app.limits()

    def set_latency(
        self,
        median_seconds: float | None,
        spread: float = 0.5,
        cap_seconds: float | None = None,
        seed: int = 0,
    ) -> None:
        self.app.set_latency(median_seconds, spread, cap_seconds, seed)

    def latency(self) -> dict[str, Any]:
        return self.app.latency()

    def reset(self) -> None:
        self.app.reset()

    def holding(self) -> int:
        return self.app.holding()

    def release_held_requests(self) -> None:
        self.app.release_held_requests()

    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests()


def start_images_server(port: int = 0) -> ImagesServer:
    """Start a server on `port` (0 picks a free one); call `.stop()` when done."""
    return ImagesServer(port).start()


# ---------------------------------------------------------------------------------------------
# Request parsing and validation


@dataclass
class _Body:
    """A request's fields and files, read leniently so that even a bad request is logged."""

    fields: dict[str, Any]
    # Files by parameter name without brackets (`image[]` is `image`).
    files: dict[str, list[bytes]]
    # Every parameter the request carries, fields and files, in order, without brackets.
    names: list[str]
    form: bool
    error: ApiError | None = None


def _authorize(request: Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )


def _read_body(request: Request, endpoint: str) -> _Body:
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = {}
        names: list[str] = []
        for key, value in request.form.items(multi=True):
            name = _bare(key)
            names.append(name)
            # `svg[model]` and the like only matter as names: this server takes no SVG output.
            if name == key:
                fields.setdefault(name, value)
        files: dict[str, list[bytes]] = {}
        upload: FileStorage
        for key, upload in request.files.items(multi=True):
            names.append(_bare(key))
            files.setdefault(_bare(key), []).append(upload.read())
        return _Body(fields=fields, files=files, names=list(dict.fromkeys(names)), form=True)
    body = request.get_json(silent=True, force=True)
    if isinstance(body, dict):
        return _Body(fields=body, files={}, names=list(body), form=False)
    error = None
    if endpoint != "edits" or request.get_data():
        error = ApiError(400, "We could not parse the JSON body of your request.")
    return _Body(fields={}, files={}, names=[], form=False, error=error)


def _validate(endpoint: str, body: _Body, families: Sequence[ModelFamily]) -> ImageCall:
    """The request as a call, checked in about the order OpenAI checks: the model, then which
    parameters are sent, then each value, then how they combine."""
    params = _Params(body.fields, form=body.form)
    model, family = _model(body.fields, families)
    known = GENERATION_PARAMETERS if endpoint == "generations" else EDIT_PARAMETERS
    for name in body.names:
        if name not in known or name in family.legacy_parameters:
            raise ApiError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    prompt = _prompt(params, family)
    references = _references(body, family) if endpoint == "edits" else ()
    n = params.integer("n", 1, family.max_n)
    quality = params.enum("quality", family.qualities) or "auto"
    output_format = params.enum("output_format", family.output_formats) or "png"
    compression = params.integer("output_compression", 0, 100)
    size = family.sizes.parse(params.get("size"))
    background = params.enum("background", family.backgrounds) or "auto"
    if endpoint == "generations":
        params.enum("moderation", family.moderations)
    else:
        _input_fidelity(params, model, family)
    params.enum("complexity", family.complexities)
    # The answer echoes the effective identifier: `safety_identifier`, else the deprecated `user`.
    safety_identifier, user = params.string("safety_identifier"), params.string("user")
    safety_identifier = safety_identifier or user or None
    stream = params.boolean("stream") or False
    partial_images = params.integer("partial_images", 0, family.max_partial_images) or 0

    if compression is not None and compression < 100 and output_format not in family.lossy_formats:
        # What OpenAI answers (its message, type and code), naming no parameter.
        raise ApiError(
            400,
            f"Compression less than 100 is not supported for {output_format.upper()} output format",
            error_type="image_generation_user_error",
            code="invalid_png_output_compression",
        )
    if background == "transparent" and output_format not in family.transparent_formats:
        raise ApiError(
            400,
            f"Invalid value: 'transparent'. A transparent background needs output_format "
            f"{_quoted(family.transparent_formats, 'or')}, not '{output_format}'.",
            param="background",
            code="invalid_value",
        )
    if partial_images and not stream:
        raise ApiError(
            400,
            "Invalid 'partial_images': partial images are only sent when streaming; set 'stream' to true.",
            param="partial_images",
            code="invalid_value",
        )
    for name, needs in (("frame_count", "gif"), ("frame_duration_ms", "gif"), ("svg", "svg")):
        # A form spells the svg object as `svg[model]`: there the name alone says it was sent.
        if params.get(name) is not None or (body.form and name in body.names):
            raise ApiError(
                400,
                f"Invalid '{name}': only supported with output_format={needs}, which model '{model}' does not "
                "offer here.",
                param=name,
                code="invalid_value",
            )
    if endpoint == "edits":
        _check_overlays(body, family, model, references)
    return ImageCall(
        endpoint=endpoint,
        model=model,
        prompt=prompt,
        size=size,
        quality=family.auto_quality if quality == "auto" else quality,
        n=n or 1,
        output_format=output_format,
        background="opaque" if background == "auto" else background,
        compression=100 if compression is None else compression,
        stream=stream,
        partial_images=partial_images,
        references=references,
        safety_identifier=safety_identifier,
    )


def _model(fields: Mapping[str, Any], families: Sequence[ModelFamily]) -> tuple[str, ModelFamily]:
    if "model" not in fields:
        raise ApiError(400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    model = fields["model"]
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    for family in families:
        if family.takes(model):
            return model, family
    raise ApiError(400, f"The model '{model}' does not exist.", param="model", code="invalid_value")


def _prompt(params: _Params, family: ModelFamily) -> str:
    prompt = params.get("prompt")
    if prompt is None:
        raise ApiError(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    if not isinstance(prompt, str):
        raise _invalid_type("prompt", "a string", prompt)
    if not prompt.strip():
        raise ApiError(
            400,
            "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            param="prompt",
            code="empty_string",
        )
    if len(prompt) > family.max_prompt_chars:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {family.max_prompt_chars}, "
            f"but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def _references(body: _Body, family: ModelFamily) -> tuple[bytes, ...]:
    if not body.form and ("image" in body.fields or "images" in body.fields):
        name = "images" if "images" in body.fields else "image"
        raise ApiError(
            400,
            "This local server takes edit images as multipart files (image or image[]), as the SDK sends them; "
            "JSON image references (file_id, image_url) are not supported here.",
            param=name,
            code="invalid_value",
        )
    images = body.files.get("image", [])
    if not images:
        raise ApiError(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    if len(images) > family.max_references:
        raise ApiError(
            400,
            f"Too many images: at most {family.max_references} are allowed.",
            param="image",
            code="invalid_value",
        )
    for number, data in enumerate(images, start=1):
        if _image_size(data, REFERENCE_FORMATS) is None:
            raise ApiError(
                400,
                f"Invalid image file or mode for image {number}, please check your image file. "
                f"Supported formats are {', '.join(REFERENCE_FORMATS)}.",
                param="image",
                code="invalid_image_format",
            )
    return tuple(images)


def _input_fidelity(params: _Params, model: str, family: ModelFamily) -> None:
    if family.input_fidelities:
        params.enum("input_fidelity", family.input_fidelities)
    elif params.get("input_fidelity") is not None:
        raise ApiError(
            400,
            f"input_fidelity is not supported for model '{model}': it always processes image inputs at high "
            "fidelity. Omit this parameter.",
            param="input_fidelity",
            code="invalid_input_fidelity_model",
        )


def _check_overlays(body: _Body, family: ModelFamily, model: str, references: Sequence[bytes]) -> None:
    """`mask` (and, where the model takes it, `markup`): one PNG the size of the first image.
    They are checked and then ignored: the scenes are drawn, not edited."""
    if "markup" in body.names and not family.markup:
        raise ApiError(400, f"markup is not supported for model '{model}'.", param="markup", code="invalid_value")
    if "markup" in body.names and "mask" in body.names:
        raise ApiError(400, "markup cannot be combined with mask.", param="markup", code="invalid_value")
    first = _image_size(references[0], REFERENCE_FORMATS)
    for name in ("mask", "markup"):
        if name not in body.names:
            continue
        uploads = body.files.get(name, [])
        size = _image_size(uploads[0], ("PNG",)) if len(uploads) == 1 else None
        if size is None:
            raise ApiError(400, f"Invalid '{name}': expected one PNG file.", param=name, code="invalid_image_format")
        if size != first:
            raise ApiError(
                400,
                f"Invalid '{name}': it must have the same dimensions as the first image.",
                param=name,
                code="invalid_value",
            )


class _Params:
    """Request values as OpenAI reads them: a null is an omitted value, and form fields arrive as
    text (`"2"` is 2, `"true"` is true). Each reader raises ApiError naming the parameter."""

    def __init__(self, fields: Mapping[str, Any], *, form: bool) -> None:
        self._fields = fields
        self._form = form

    def get(self, name: str) -> Any:
        return self._fields.get(name)

    def string(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _invalid_type(name, "a string", value)
        return value

    def enum(self, name: str, allowed: Sequence[str]) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _invalid_type(name, f"one of {_quoted(allowed, 'or')}", value)
        if value not in allowed:
            raise ApiError(
                400,
                f"Invalid value: '{value}'. Supported values are: {_quoted(allowed, 'and')}.",
                param=name,
                code="invalid_value",
            )
        return value

    def integer(self, name: str, low: int, high: int) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if self._form and isinstance(value, str):
            if not re.fullmatch(r"-?\d+", value.strip()):
                raise ApiError(
                    400,
                    f"Invalid type for '{name}': expected an integer, but got a string value that could not be "
                    "converted into an integer.",
                    param=name,
                    code="invalid_type",
                )
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid_type(name, "an integer", value)
        if value < low:
            raise ApiError(
                400,
                f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
                param=name,
                code="integer_below_min_value",
            )
        if value > high:
            raise ApiError(
                400,
                f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
                param=name,
                code="integer_above_max_value",
            )
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if self._form and value in ("true", "false"):
            return bool(value == "true")
        raise _invalid_type(name, "a boolean", value)


def _invalid_type(name: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{name}': expected {expected}, but got {_json_type(value)} instead.",
        param=name,
        code="invalid_type",
    )


def _invalid_size(raw: str, detail: str) -> ApiError:
    return ApiError(400, f"Invalid size '{raw}'. {detail}", param="size", code="invalid_value")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _quoted(items: Sequence[str], conjunction: str) -> str:
    """`'a', 'b', and 'c'` / `'a' or 'b'`, as OpenAI lists values."""
    quoted = [f"'{item}'" for item in items]
    if len(quoted) <= 2:
        return f" {conjunction} ".join(quoted)
    return f"{', '.join(quoted[:-1])}, {conjunction} {quoted[-1]}"


def _image_size(data: bytes, formats: Sequence[str]) -> tuple[int, int] | None:
    """The size of a decodable image in one of `formats`, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in formats:
                return None
            image.load()
            size: tuple[int, int] = image.size
            return size
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None


# ---------------------------------------------------------------------------------------------
# Helpers


def _render(call: ImageCall, variant: int) -> RenderedScene:
    return render_scene(
        call.prompt,
        call.size,
        references=call.references,
        variant=variant,
        transparent=call.background == "transparent",
    )


def _partial(scene: RenderedScene, index: int, count: int) -> RenderedScene:
    """The `index`-th of `count` previews: the picture at a coarser resolution, sharper each time."""
    factor = 2 ** (count - index + 1)
    width, height = scene.image.size
    coarse = scene.image.resize((max(1, width // factor), max(1, height // factor)), Image.Resampling.BOX)
    return RenderedScene(image=coarse.resize((width, height), Image.Resampling.NEAREST), traits=scene.traits)


def _b64(scene: RenderedScene, call: ImageCall) -> str:
    return base64.b64encode(scene.encode(call.output_format, quality=call.compression)).decode("ascii")


def _usage(call: ImageCall, *, images: int, with_input: bool) -> dict[str, Any]:
    """Token usage shaped as OpenAI reports it; the numbers are estimates in OpenAI's units."""
    width, height = call.size
    text_tokens = max(1, -(-len(call.prompt) // 4)) if with_input else 0
    image_tokens = _TOKENS_PER_REFERENCE * len(call.references) if with_input else 0
    per_image = round(_OUTPUT_TOKENS.get(call.quality, _OUTPUT_TOKENS["high"]) * width * height / 1024**2)
    output_tokens = (per_image + _TOKENS_PER_PARTIAL_IMAGE * call.partial_images) * images
    return {
        "input_tokens": text_tokens + image_tokens,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"image_tokens": output_tokens, "text_tokens": 0},
        "total_tokens": text_tokens + image_tokens + output_tokens,
    }


def _sse(event: Mapping[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _bare(name: str) -> str:
    """A multipart name without its brackets: `image[]` and `svg[model]` are `image` and `svg`."""
    return name.split("[", 1)[0]


def _json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json")


def _maybe_int(value: Any) -> Any:
    """Form fields arrive as text: "2" means 2. Anything else is returned as sent."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds")
    return float(value)


def _format_seconds(seconds: float) -> str:
    """`2` rather than `2.0`, as the real service writes whole seconds."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _format_number(value: float) -> str:
    """`60` rather than `60.0`; other values to at most three decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")


def format_duration(seconds: float) -> str:
    """A duration as OpenAI's `x-ratelimit-reset-*` headers and rate-limit messages write it (Go's
    duration format, to the millisecond, rounded up): `0s`, `250ms`, `1.5s`, `12s`, `1m3s`, `1h0m0s`.
    OpenAI's rate-limit guide (platform.openai.com/docs/guides/rate-limits, "Rate limits in
    headers") shows `x-ratelimit-reset-requests: 1s` and `x-ratelimit-reset-tokens: 6m0s`."""
    millis = max(0, math.ceil(seconds * 1000 - 1e-6))
    if millis < 1000:
        return f"{millis}ms" if millis else "0s"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    text = f"{whole}.{fraction:03d}".rstrip("0") if fraction else str(whole)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{text}s"


def _not_number(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value)
