"""The progress page (clients/web on the TypeScript client) in Debian's Chromium against the whole
local stack: what a person sees from "Generate all images" to the end of the run, checked against
what the API says. Playwright drives the browser (its driver is playwright-core; it downloads no
browser here: `make browser` installs Debian's chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api_client import ApiClient
from tests.waiting import wait_until

OUT = Path(__file__).resolve().parents[2] / "out"
REJECTED = "a dragon over the sea [content-policy-violation]"
HELD = "held back a while"
ALL_IMAGES_LOADED = "[...document.images].every(image => image.complete && image.naturalWidth > 0)"
# What the machine's closed network needs (design notes: browser tests).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
POLL_MS = 300  # the page's ?poll=: the app polls every 5 s, the tests need not wait that long
JOB_ENDS_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed: `make browser` installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the page threw: {errors}"


def open_story(page: Page, stack: Any, story_id: str) -> None:
    """As a person would: open the page as user-1, pick the story."""
    page.goto(f"{stack.url}/?user=user-1&poll={POLL_MS}")
    page.get_by_role("combobox", name="Story").select_option(story_id)


def generate(page: Page) -> str:
    """Press "Generate all images"; the job id the page shows (it keeps it in its URL)."""
    page.get_by_role("button", name="Generate all images").click()
    page.get_by_role("progressbar").wait_for()
    return parse_qs(urlsplit(page.url).query)["job"][0]


def ended(page: Page, status: str) -> None:
    page.locator(f'section[data-status="{status}"]').wait_for(timeout=JOB_ENDS_MS)


def shown_counts(page: Page) -> dict[str, int]:
    counts = page.locator("[data-count]")
    return {
        str(counts.nth(i).get_attribute("data-count")): int(counts.nth(i).inner_text()) for i in range(counts.count())
    }


def api_counts(summary: dict[str, Any]) -> dict[str, int]:
    return {
        "completed": summary["completed"],
        "errors": summary["errors"],
        "queued": summary["queued"],
        "skipped": summary["skipped"],
        "total": summary["totalSlides"],
    }


def test_given_a_story_when_generated_from_the_page_then_the_bar_reaches_100_thumbnails_load_once_and_counts_match(
    stack: Any, api: ApiClient, new_story: Any, images: Any, page: Page
) -> None:
    # The last image is held at the Images server, so the page polls while three thumbnails show.
    images.set_faults([{"kind": "slow", "match": HELD, "times": None, "seconds": 60}])
    story = new_story(4, prompts={4: f"Juniper at the harbour at dusk, {HELD}"})
    image_requests: list[str] = []
    page.on("request", lambda request: image_requests.append(request.url) if request.resource_type == "image" else None)
    open_story(page, stack, story)

    job_id = generate(page)
    try:
        wait_until(lambda: images.holding() >= 1, "the last image held")
        page.wait_for_function(f"document.images.length === 3 && {ALL_IMAGES_LOADED}")
        for _ in range(2):  # two more polls answer the three images again
            with page.expect_response(lambda response: "/master-job/" in response.url):
                pass
    finally:
        images.release_held_requests()
    ended(page, "completed")

    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    thumbnails = page.get_by_role("img")
    assert [thumbnails.nth(i).get_attribute("alt") for i in range(thumbnails.count())] == [
        f"slide {n}" for n in range(1, 5)
    ]
    assert page.evaluate(ALL_IMAGES_LOADED)
    data = api.status(job_id).json()["data"]
    assert (
        shown_counts(page)
        == api_counts(data["summary"])
        == {
            "completed": 4,
            "errors": 0,
            "queued": 0,
            "skipped": 0,
            "total": 4,
        }
    )
    # Thumbnails keep their URL across polls, so each image was downloaded once however often the page polled.
    assert sorted(image_requests) == sorted(slide["result"]["imageUrl"] for slide in data["slideJobs"])
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=OUT / "progress-page.png", full_page=True)


def test_given_a_story_with_a_rejected_slide_when_generated_then_the_page_shows_one_error_and_retry_starts_a_new_run(
    stack: Any, api: ApiClient, new_story: Any, images: Any, page: Page
) -> None:
    story = new_story(3, prompts={2: REJECTED})
    open_story(page, stack, story)

    job_id = generate(page)
    ended(page, "completed_with_errors")

    assert shown_counts(page)["errors"] == 1
    failed = page.locator('li[data-slide="2"]')
    assert failed.get_attribute("data-status") == "failed"
    assert "IMAGE_REJECTED" in failed.inner_text()
    assert shown_counts(page) == api_counts(api.status(job_id).json()["data"]["summary"])

    page.get_by_role("button", name="Retry failed slides").click()

    page.get_by_role("status").filter(has_text="(retry 1)").wait_for()
    # The prompt is still refused, so run 1 ends as run 0 did.
    ended(page, "completed_with_errors")
    job = api.status(job_id).json()["data"]["masterJob"]
    assert (job["run"], job["status"]) == (1, "completed_with_errors")
    assert page.get_by_role("status").inner_text() == "Finished, but some images failed: 2 of 3 images (retry 1)"


def test_given_a_running_job_when_cancel_is_pressed_then_the_page_shows_cancelled_and_skipped_slides(
    stack: Any, api: ApiClient, new_story: Any, images: Any, page: Page
) -> None:
    # The first image is held at the Images server, so the job is certainly running when Cancel is pressed.
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 60}])
    story = new_story(3)
    open_story(page, stack, story)
    job_id = generate(page)
    wait_until(lambda: images.holding() >= 1, "the first image held")

    try:
        page.get_by_role("button", name="Cancel").click()
        ended(page, "cancelled")

        tiles = page.locator("li[data-slide]")
        assert [tiles.nth(i).get_attribute("data-status") for i in range(tiles.count())] == ["skipped"] * 3
        assert shown_counts(page) == api_counts(api.status(job_id).json()["data"]["summary"])
        assert shown_counts(page)["skipped"] == 3
        assert page.get_by_role("button", name="Cancel").count() == 0
        assert page.get_by_role("button", name="Retry failed slides").is_visible()
    finally:
        images.release_held_requests()
