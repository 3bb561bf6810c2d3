"""Answers to a Step Functions task waiting on a token (`.waitForTaskToken`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from storyimages.domain.errors import TaskGone

# Step Functions' answers when nothing waits on the token any more; anything else (throttling,
# a network fault) is raised as it is, so the message comes back and is answered later.
GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
MAX_ERROR_CHARS = 256  # SendTaskFailure's limits
MAX_CAUSE_CHARS = 32768


class StepFunctionsTaskReports:
    def __init__(self, *, client: Any = None) -> None:
        self._injected = client

    @cached_property
    def _sfn(self) -> Any:
        if self._injected is not None:
            return self._injected
        import boto3

        return boto3.client("stepfunctions")

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        with _gone_when_no_task():
            self._sfn.send_task_success(taskToken=token, output=json.dumps(dict(output)))

    def fail(self, token: str, error: str, cause: str) -> None:
        with _gone_when_no_task():
            self._sfn.send_task_failure(taskToken=token, error=error[:MAX_ERROR_CHARS], cause=cause[:MAX_CAUSE_CHARS])


@contextmanager
def _gone_when_no_task() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in GONE:
            raise TaskGone(str(exc)) from exc
        raise
