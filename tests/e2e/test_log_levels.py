"""Every handler at the log levels it is deployed and debugged at: a logging call that cannot
run at a level (a reserved LogRecord name as a key, say) breaks the answer, not just a log line."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["DEBUG", "INFO"])
def log_level(request, stack):  # type: ignore[no-untyped-def]
    deployed = stack.config.deployment.log_level
    stack.redeploy(log_level=request.param)
    yield request.param
    stack.redeploy(log_level=deployed)


def test_given_a_log_level_when_a_story_is_started_then_it_answers_202(
    stack, api, new_story, images, log_level
) -> None:
    response = api.start(new_story(2))

    assert response.status_code == 202, response.text
