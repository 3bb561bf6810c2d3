from __future__ import annotations

from dataclasses import replace

import pytest

from storyimages.domain.errors import InvalidStory, StoryNotFound, WorkflowStartFailed
from storyimages.domain.jobs import JobStatus, SlideStatus
from storyimages.domain.start_generation import GenerationConfig, StartCommand, StartedJob, start_generation
from tests.fakes import FakeJobStore, FakeStories, FakeWorkflow, FixedClock
from tests.stories import story_document


def start(story_id: str, stories: FakeStories, config: GenerationConfig, **ports: object) -> tuple[StartedJob, dict]:
    jobs = ports.get("jobs") or FakeJobStore()
    workflow = ports.get("workflow") or FakeWorkflow()
    started = start_generation(
        StartCommand(story_id),
        stories=stories,
        jobs=jobs,
        workflow=workflow,
        clock=FixedClock(),
        config=config,
    )
    return started, {"jobs": jobs, "workflow": workflow}


def test_given_a_story_when_started_then_one_master_and_one_pending_job_per_slide_are_recorded(
    config,
) -> None:
    started, ports = start("fox", FakeStories({"fox": story_document(5)}), config)

    jobs = ports["jobs"]
    job = jobs.jobs[started.master_job_id]
    assert started.master_job_id == "auto-gen-fox-1795510800000"
    assert job.status is JobStatus.PENDING
    assert job.owner_id == "user-1"
    assert [s.status for s in job.slides.values()] == [SlideStatus.PENDING] * 5
    assert sorted(jobs.slide_jobs) == [f"{started.master_job_id}-slide-{n}" for n in range(1, 6)]
    assert "Scene: Juniper in scene 3" in jobs.slide_jobs[f"{started.master_job_id}-slide-3"].prompt
    assert jobs.commits == [("create_job", started.master_job_id)]


def test_given_a_story_when_started_then_the_execution_is_named_after_the_job_and_carries_ids_only(
    config,
) -> None:
    started, ports = start("fox", FakeStories({"fox": story_document(4)}), config)

    assert ports["workflow"].started == {
        started.master_job_id: {
            "masterJobId": started.master_job_id,
            "firstSlide": 1,
            "remainingSlides": [2, 3, 4],
            "delaySeconds": 2,
            "maxConcurrency": 1,
        }
    }


@pytest.mark.parametrize(
    ("slides", "delay", "concurrency", "seconds", "text"),
    [
        (5, 2, 1, 5 * 60 + 4 * 2, "6 minutes"),
        (1, 2, 1, 60, "1 minute"),
        (4, 0, 2, 2 * 60, "2 minutes"),
    ],
)
def test_given_delay_and_image_estimate_when_started_then_the_estimate_follows_them(
    config, slides: int, delay: int, concurrency: int, seconds: int, text: str
) -> None:
    config = replace(config, delay_seconds=delay, max_concurrency=concurrency)

    started, _ = start("fox", FakeStories({"fox": story_document(slides)}), config)

    assert (started.estimated_seconds, started.estimated_time, started.total_slides) == (
        seconds,
        text,
        slides,
    )


def test_given_a_quick_story_when_estimated_then_less_than_a_minute(config) -> None:
    started, _ = start("fox", FakeStories({"fox": story_document(1)}), replace(config, seconds_per_image=20))

    assert started.estimated_time == "less than a minute"


def test_given_no_such_story_when_started_then_story_not_found_and_nothing_recorded(config) -> None:
    jobs = FakeJobStore()
    with pytest.raises(StoryNotFound):
        start("missing", FakeStories(), config, jobs=jobs)

    assert jobs.jobs == {}


def test_given_a_malformed_story_when_started_then_invalid_story_and_nothing_recorded(config) -> None:
    jobs = FakeJobStore()
    with pytest.raises(InvalidStory):
        start("bad", FakeStories({"bad": {"ownerId": "u", "slides": []}}), config, jobs=jobs)

    assert jobs.jobs == {}


def test_given_step_functions_down_when_started_then_the_job_is_failed_not_left_pending(config) -> None:
    jobs = FakeJobStore()

    with pytest.raises(WorkflowStartFailed):
        start(
            "fox",
            FakeStories({"fox": story_document(2)}),
            config,
            jobs=jobs,
            workflow=FakeWorkflow(unavailable=True),
        )

    (job,) = jobs.jobs.values()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "WORKFLOW_START_FAILED"
    assert {s.status for s in job.slides.values()} == {SlideStatus.SKIPPED}


def test_given_concurrency_above_one_when_started_then_the_message_says_so(config) -> None:
    started, _ = start("fox", FakeStories({"fox": story_document(2)}), replace(config, max_concurrency=3))

    assert started.message.endswith("up to 3 at a time.")
