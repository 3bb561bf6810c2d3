from __future__ import annotations

from storyimages.api.schemas import JobStatusResponse
from storyimages.domain.identity import Caller
from storyimages.domain.job_status import get_job_status
from tests.job_world import World


def test_given_a_job_in_progress_when_polled_then_the_seed_response_shape_is_filled_from_the_job(
    config,
) -> None:
    world = World(config, slides=5)
    for n in (1, 2, 3):
        world.generate(n)
    world.jobs.mark_slide_generating(world.job_id, 4, world.clock.now())
    queued_at = world.clock.now()
    world.jobs.mark_slide_queued(world.job_id, 5, queued_at)

    body = JobStatusResponse.of(
        get_job_status(world.job_id, Caller("user-1"), jobs=world.jobs, storage=world.storage)
    ).model_dump(mode="json")

    data = body["data"]
    assert body["success"] is True
    assert data["masterJob"] | {"createdAt": None, "updatedAt": None} == {
        "jobId": world.job_id,
        "type": "auto-generation-sequence",
        "storyId": "fox",
        "status": "generating",
        "progress": 60,
        "currentSlide": 4,
        "totalSlides": 5,
        "useCharacterConsistency": True,
        "referenceSlide": 1,
        "createdAt": None,
        "updatedAt": None,
        "finishedAt": None,
        "run": 0,
        "queuedSince": queued_at.isoformat().replace("+00:00", "Z"),
        "error": None,
        "webhook": None,
    }
    assert data["summary"] == {
        "totalSlides": 5,
        "completed": 3,
        "errors": 0,
        "skipped": 0,
        "inProgress": 2,
        "queued": 1,
        "overallProgress": 60,
    }
    first, fourth, fifth = data["slideJobs"][0], data["slideJobs"][3], data["slideJobs"][4]
    assert first == {
        "jobId": f"{world.job_id}-slide-1",
        "slideNumber": 1,
        "status": "completed",
        "progress": 100,
        "result": {
            "imageUrl": f"https://images.example/{world.key(1)}?signed",
            "size": "1024x1024",
            "model": "gpt-image-2",
            "format": "png",
        },
        "error": None,
    }
    assert (fourth["status"], fourth["progress"], fourth["result"]) == ("generating", 50, None)
    assert (fifth["status"], fifth["progress"], fifth["result"]) == ("queued", 0, None)


def test_given_a_failed_slide_when_polled_then_its_error_is_shown(config) -> None:
    world = World(config, slides=2)
    world.fail(2, "IMAGE_REJECTED")

    view = get_job_status(world.job_id, Caller("user-1"), jobs=world.jobs, storage=world.storage)
    body = JobStatusResponse.of(view).model_dump(mode="json")

    assert body["data"]["slideJobs"][1]["error"] == {
        "code": "IMAGE_REJECTED",
        "message": "no",
        "details": None,
    }
    assert body["data"]["summary"]["errors"] == 1
