"""Turn what Step Functions caught (`{"Error", "Cause"}`) into a stable error on the job."""

from __future__ import annotations

import json

from storyimages.domain.errors import ERROR_CODES_BY_NAME
from storyimages.domain.jobs import JobError

MAX_MESSAGE_CHARS = 500

_STATES_ERROR_CODES = {
    # A slide that waited in the image queue, and was worked on, past ImageQueueTimeoutSeconds.
    "States.Timeout": "TIMEOUT",
    "Sandbox.Timedout": "TIMEOUT",
    "States.TaskFailed": "TASK_FAILED",
    "States.Runtime": "WORKFLOW_ERROR",
}


UNEXPECTED = "an unexpected error stopped this slide; it is in the function's log"
# Errors of the services that run a task, raised before any function of ours ran: saying the
# cause is in the function's log would send a person to a log with nothing in it.
_NOT_RUN = {
    "Lambda.": "Lambda did not run the task ({name}), past every retry",
    "SQS.": "the image queue did not take the slide ({name}), past every retry",
}


def describe_failure(error_name: str | None, cause: str | None) -> JobError:
    name = error_name or "Unknown"
    for prefix, text in _NOT_RUN.items():
        if name.startswith(prefix):
            return JobError(code="TASK_NOT_RUN", message=text.format(name=name))
    code = ERROR_CODES_BY_NAME.get(name) or _STATES_ERROR_CODES.get(name)
    if code is None:
        # Not one of ours: its text may name AWS resources; the app gets a plain sentence.
        return JobError(code="UNEXPECTED_ERROR", message=UNEXPECTED)
    message = _message_from_cause(cause) or name
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return JobError(code=code, message=message)


def _message_from_cause(cause: str | None) -> str:
    """A Lambda error's Cause is the JSON the function returned; other causes are plain text."""
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])
    return cause
