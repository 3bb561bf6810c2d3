"""The local stack's page server: which requests it takes from the gateway, what it answers, and
how browsers may cache it. No sockets: werkzeug's test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from local_stack.app_page import ASSET_MAX_AGE_SECONDS, STORIES_PATH, AppPage, story_summaries


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>page</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('page')")
    return tmp_path


def client_of(page: AppPage) -> Client:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return page.respond(Request(environ))(environ, start_response)

    return Client(app, Response)


def request(method: str, path: str) -> Request:
    return Request(EnvironBuilder(method=method, path=path).get_environ())


def test_given_api_auth_and_health_paths_when_asked_then_the_page_leaves_them_to_the_gateway(built: Path) -> None:
    page = AppPage(built, list)

    taken = {
        (method, path): page.serves(request(method, path))
        for method, path in [
            ("GET", "/"),
            ("GET", "/assets/index-abc123.js"),
            ("GET", STORIES_PATH),
            ("GET", "/api/images/master-job/x"),
            ("POST", "/api/images/generate-all-automatically"),
            ("POST", "/"),
            ("GET", "/_local/auth/certs"),
            ("GET", "/health"),
        ]
    }

    assert [key for key, serves in taken.items() if serves] == [
        ("GET", "/"),
        ("GET", "/assets/index-abc123.js"),
        ("GET", STORIES_PATH),
    ]


def test_given_a_built_page_when_fetched_then_index_is_revalidated_and_hashed_assets_cached_for_a_year(
    built: Path,
) -> None:
    client = client_of(AppPage(built, list))

    index = client.get("/")
    asset = client.get("/assets/index-abc123.js")

    assert (index.status_code, index.mimetype) == (200, "text/html")
    assert "no-cache" in index.headers["Cache-Control"]
    assert asset.status_code == 200
    assert asset.cache_control.max_age == ASSET_MAX_AGE_SECONDS and asset.cache_control.immutable


def test_given_a_path_outside_the_page_when_fetched_then_404_and_nothing_outside_the_folder_is_read(
    built: Path,
) -> None:
    (built.parent / "secret.txt").write_text("not for the browser")
    client = client_of(AppPage(built, list))

    assert client.get("/nope.js").status_code == 404
    assert client.get("/../secret.txt").status_code == 404
    assert client.get("/assets/%2e%2e/%2e%2e/secret.txt").status_code == 404


def test_given_no_build_when_fetched_then_404_says_how_to_build_it(tmp_path: Path) -> None:
    answer = client_of(AppPage(tmp_path / "dist", list)).get("/")

    assert answer.status_code == 404
    assert "make web" in answer.json["error"]


def test_given_stories_when_listed_then_each_has_id_owner_title_and_slide_count_sorted_by_owner() -> None:
    documents = [
        ("b-story", {"ownerId": "user-2", "title": "Bee", "slides": [{"text": "one"}], "private": "kept out"}),
        ("untitled", {"ownerId": "user-1", "slides": [{"text": "a"}, {"text": "b"}]}),
        ("a-story", {"ownerId": "user-1", "title": "Ant", "slides": []}),
    ]
    page = AppPage(Path("/nonexistent"), lambda: story_summaries(documents))

    listed = client_of(page).get(STORIES_PATH).json

    assert listed == {
        "stories": [
            {"storyId": "a-story", "ownerId": "user-1", "title": "Ant", "slides": 0},
            {"storyId": "untitled", "ownerId": "user-1", "title": "untitled", "slides": 2},
            {"storyId": "b-story", "ownerId": "user-2", "title": "Bee", "slides": 1},
        ]
    }
