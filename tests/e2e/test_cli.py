"""The operators' CLI (`python -m storyimages_cli`) as a subprocess against the whole local stack.

Each run's subprocess timeout is its deadline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.waiting import wait_until

REPOSITORY = Path(__file__).resolve().parents[2]
REJECTED = "Juniper in a scene the Images server refuses [content-policy-violation]"


def storyimages(
    stack: Any, *args: str, as_user: str | None = "user-1", deadline: float = 90
) -> subprocess.CompletedProcess[str]:
    """Runs the CLI as an operator would, with the API's URL and a token of `as_user` (None: no token) in its
    environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STORYIMAGES_")}
    env["STORYIMAGES_API_URL"] = stack.url
    if as_user is not None:
        env["STORYIMAGES_TOKEN"] = stack.token(as_user)
    return subprocess.run(
        [sys.executable, "-m", "storyimages_cli", *args],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=deadline,
        check=False,
    )


def test_given_a_good_story_when_started_and_watched_then_exit_0_and_every_slide_completed(
    stack, api, new_story, images
) -> None:
    story = new_story(3)

    run = storyimages(stack, "start", story, "--watch", "--interval", "0.2")

    assert run.returncode == 0, run.stderr
    job_id, *progress = run.stdout.splitlines()
    assert job_id.startswith(f"auto-gen-{story}-")
    assert progress[-1] == f"{job_id}: completed (run 0): 3 completed, 0 failed, 0 skipped of 3"
    assert {f"slide {n}: completed" for n in (1, 2, 3)} <= set(progress)
    data = api.status(job_id).json()["data"]
    assert data["masterJob"]["status"] == "completed"
    assert [s["status"] for s in data["slideJobs"]] == ["completed"] * 3


def test_given_a_rejected_slide_when_watched_then_exit_2_and_retry_starts_run_1(stack, api, new_story, images) -> None:
    story = new_story(3, prompts={2: REJECTED})

    started = storyimages(stack, "start", story, "--watch", "--interval", "0.2")

    assert started.returncode == 2, started.stderr
    job_id = started.stdout.splitlines()[0]
    assert "slide 2: failed IMAGE_REJECTED" in started.stdout.splitlines()

    retried = storyimages(stack, "retry", job_id, "--watch", "--interval", "0.2")

    # The prompt is still refused, so run 1 ends as run 0 did.
    assert retried.returncode == 2, retried.stderr
    assert retried.stdout.splitlines()[0].startswith(f"{job_id}: generating (run 1): 2 completed")
    job = api.status(job_id).json()["data"]["masterJob"]
    assert (job["status"], job["run"]) == ("completed_with_errors", 1)


def test_given_a_running_job_when_cancelled_then_exit_0_and_watching_it_exits_4(stack, api, new_story, images) -> None:
    # The first image is held at the Images server, so the job is certainly running when the cancel arrives.
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 60}])
    job_id = api.start_job(new_story(3))
    wait_until(lambda: images.holding() >= 1, "the first image held")

    cancelled = storyimages(stack, "cancel", job_id)
    images.release_held_requests()
    watched = storyimages(stack, "watch", job_id, "--interval", "0.2")

    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.startswith(f"{job_id}: cancelled (run 0): ")
    assert watched.returncode == 4, watched.stderr
    assert watched.stdout.splitlines()[-1].startswith(f"{job_id}: cancelled (run 0): ")


def test_given_an_ended_job_when_status_json_then_it_prints_the_apis_data(stack, api, new_story, images) -> None:
    job_id = api.start_job(new_story(2, prompts={2: REJECTED}))
    api.wait(job_id)

    run = storyimages(stack, "status", job_id, "--json")

    assert run.returncode == 0, run.stderr
    assert without_signatures(json.loads(run.stdout)) == without_signatures(api.status(job_id).json()["data"])


def test_given_an_ended_job_when_status_then_a_table_with_the_image_url(stack, api, new_story, images) -> None:
    job_id = api.start_job(new_story(1))
    api.wait(job_id)

    run = storyimages(stack, "status", job_id)

    assert run.returncode == 0, run.stderr
    assert "status completed, run 0, 100%" in run.stdout
    assert any(line.startswith("slide 1: http") for line in run.stdout.splitlines())


def test_given_an_unknown_job_when_watched_then_exit_1_with_job_not_found(stack, images) -> None:
    run = storyimages(stack, "watch", "auto-gen-no-such-story-1795510800000")

    assert run.returncode == 1
    assert run.stderr.startswith("JOB_NOT_FOUND: ")


def test_given_a_forged_token_when_run_then_exit_1_unauthorized(stack, images) -> None:
    run = storyimages(stack, "status", "auto-gen-x-1", "--token", "not-a-firebase-token")

    assert run.returncode == 1
    assert run.stderr.startswith("UNAUTHORIZED: ")


def test_given_no_token_when_run_then_a_usage_error_and_exit_1(stack, images) -> None:
    run = storyimages(stack, "start", "some-story", as_user=None)

    assert run.returncode == 1
    assert "USAGE_ERROR: no token: pass --token or set STORYIMAGES_TOKEN" in run.stderr
    assert run.stdout == ""


def without_signatures(data: dict[str, Any]) -> dict[str, Any]:
    """The data with each image URL cut to its path: every answer presigns its URLs anew (the signature and its
    date differ from one read to the next)."""
    for slide in data["slideJobs"]:
        if slide["result"]:
            slide["result"]["imageUrl"] = urlsplit(slide["result"]["imageUrl"])._replace(query="").geturl()
    return data
