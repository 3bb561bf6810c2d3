"""The deployment's defaults, written once. The Lambdas' settings fall back to them, the CDK
configuration (`infra/config.py`) starts from them, and the local stack runs with that
configuration, so a default changed here changes everywhere."""

from __future__ import annotations

from typing import Final, Literal

LOG_LEVEL: Final[Literal["INFO"]] = "INFO"

IMAGE_MODEL = "gpt-image-2"
IMAGE_SIZE = "1024x1024"
IMAGE_QUALITY = "medium"
# What a request may ask for; the configured size and quality are always allowed too.
ALLOWED_IMAGE_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
ALLOWED_IMAGE_QUALITIES = ("auto", "low", "medium", "high")

DELAY_SECONDS = 2  # the rate-limit pause before each image after the first
MAX_DELAY_SECONDS = 60  # the longest pause a request may ask for
MAX_CONCURRENCY = 1  # images generated at once per story
MAX_SLIDES = 50
ESTIMATED_SECONDS_PER_IMAGE = 60

# The bounds any configuration must keep.
DELAY_SECONDS_LIMIT = 3600
CONCURRENCY_LIMIT = 40  # an inline Map runs at most 40 iterations at once
# One batch commit creates the master job, every slide job, the story's claim and the
# idempotency record: N + 3 writes, and Firestore allows 500 in a commit.
SLIDES_LIMIT = 497

# How long one Firestore call may take, retries within it included (at worst twice this, as
# the last attempt may start just before the deadline). An API handler answers 503 well before
# API Gateway's 29 s cut; a task leaves longer outages to the state machine's retries.
FIRESTORE_API_DEADLINE_SECONDS = 5
FIRESTORE_TASK_DEADLINE_SECONDS = 10

# The longest an image worker honours a rate limit's Retry-After before answering its task
# (holding its slot): well within the image function's timeout, as a 429 comes at once.
RATE_LIMIT_HOLD_SECONDS = 60

# The least time an image URL in an answer stays valid.
IMAGE_URL_EXPIRY_SECONDS = 3600

# The longest a Lambda keeps using a secret it read (the webhook signing secret, the OpenAI key,
# the Firebase service account) before reading it again: how long a rotation takes to be seen.
SECRET_MAX_AGE_SECONDS = 300

# The image function's timeout.
IMAGE_TIMEOUT_SECONDS = 300
IMAGE_STORE_SECONDS = 30


def openai_timeout_seconds(image_timeout_seconds: int) -> int:
    """OpenAI's own timeout, leaving the image function time to store and record the image."""
    return image_timeout_seconds - IMAGE_STORE_SECONDS
