"""A slide's image URL, as the app polls it: the same URL poll after poll, so the browser fetches
each image once and then answers it from its cache."""

from __future__ import annotations

import time

import requests

from tests.api_client import ApiClient
from tests.waiting import wait_until


def _image_urls(api: ApiClient, job_id: str) -> list[str]:
    data = api.status(job_id).json()["data"]
    return [slide["result"]["imageUrl"] for slide in data["slideJobs"]]


def _image_urls_a_second_later(api: ApiClient, job_id: str) -> list[str]:
    """A signing time has a resolution of one second: poll in the next one."""
    next_second = time.time() + 1.0
    wait_until(lambda: time.time() >= next_second, "a second later")
    return _image_urls(api, job_id)


def _cache_directives(header: str) -> dict[str, str]:
    directives = (part.strip().partition("=") for part in header.split(",") if part.strip())
    return {name.lower(): value for name, _, value in directives}


def test_given_a_finished_job_when_polled_seconds_apart_then_each_image_url_stays_the_same(
    stack, api: ApiClient, new_story, images
) -> None:
    job_id = api.start_job(new_story(2))
    api.wait(job_id)

    polls = [_image_urls(api, job_id), _image_urls_a_second_later(api, job_id), _image_urls_a_second_later(api, job_id)]

    # A window boundary can fall between two polls (once per window), never between both pairs.
    assert polls[0] == polls[1] or polls[1] == polls[2], polls


def test_given_a_finished_job_when_its_images_are_fetched_then_browsers_may_cache_them(
    stack, api: ApiClient, new_story, images
) -> None:
    job_id = api.start_job(new_story(2))
    api.wait(job_id)

    for url in _image_urls(api, job_id):
        image = requests.get(url, timeout=10)

        assert image.status_code == 200
        cache = _cache_directives(image.headers.get("Cache-Control", ""))
        # Immutable: the object at a slide's key is written once, never replaced.
        assert "immutable" in cache
        assert int(cache.get("max-age", "0")) >= 24 * 3600
