"""The image queue's settings, written once: CDK builds the queue and its event source from
them (`infra/capabilities/image_queue.py`) and the local stack its queue and poller.

No CDK here: the local stack imports this without starting jsii."""

from __future__ import annotations

# One slide per invocation: an image takes 30-200 s, and a batch would queue images behind
# each other inside one invocation, past the capacity the concurrency promises.
BATCH_SIZE = 1
# A message whose worker keeps dying (timeouts) goes to the dead-letter queue after this many
# receives; its task then gives up at ImageQueueTimeoutSeconds.
MAX_RECEIVE_COUNT = 5
# Longer than any slide's task waits (the ASL's ImageQueueTimeoutSeconds), so a message
# never disappears while its task still waits for it.
RETENTION_SECONDS = 4 * 24 * 3600
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# An oldest message this old means the queue grows faster than the capacity drains it.
OLDEST_MESSAGE_ALARM_SECONDS = 15 * 60


def visibility_timeout_seconds(function_timeout_seconds: int) -> int:
    """Six times the function's timeout, as AWS advises for an SQS event source: a message
    taken by an invocation that is throttled or retried is not handed out twice meanwhile."""
    return 6 * function_timeout_seconds
