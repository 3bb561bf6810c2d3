"""The progress page (`clients/web`, built to static files by `make web`) served at `/` beside the
API, as Firebase Hosting would serve the app in front of a deployed API, and the stories the page
offers to pick from (`/_local/stories`: the emulator's stories, for development users only).

Never part of the API in AWS: the gateway hands these paths here before matching any route."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

WEB_DIST = Path(__file__).resolve().parents[1] / "clients" / "web" / "dist"
STORIES_PATH = "/_local/stories"
# Vite names every asset by a hash of its content: a browser may keep it as long as it likes.
ASSET_MAX_AGE_SECONDS = 365 * 24 * 3600

StoryLister = Callable[[], list[dict[str, Any]]]


class AppPage:
    def __init__(self, root: Path, stories: StoryLister) -> None:
        self.root = root
        self._stories = stories

    def serves(self, request: Request) -> bool:
        """The page's files and the story list: every GET outside the API and the local auth."""
        if request.path == STORIES_PATH:
            return True
        return request.method in {"GET", "HEAD"} and not request.path.startswith(("/api/", "/_local/", "/health"))

    def respond(self, request: Request) -> Response:
        if request.path == STORIES_PATH:
            if request.method != "GET":
                return _json(405, {"error": "GET only"})
            return _json(200, {"stories": self._stories()})
        if not (self.root / "index.html").is_file():
            return _json(404, {"error": f"the page is not built ({self.root}): run `make web`"})
        path = request.path.lstrip("/") or "index.html"
        try:
            response = send_from_directory(self.root, path, request.environ)
        except NotFound:
            return _json(404, {"error": f"no file {request.path} in the page"})
        if path.startswith("assets/"):
            response.cache_control.public = True
            response.cache_control.max_age = ASSET_MAX_AGE_SECONDS
            response.cache_control.immutable = True
        else:  # index.html names the current assets: always ask again
            response.cache_control.no_cache = True
        return response


def story_summaries(documents: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """What the page shows of each story: its id, owner, title and number of slides."""
    summaries = [
        {
            "storyId": story_id,
            "ownerId": str(document.get("ownerId", "")),
            "title": str(document.get("title") or story_id),
            "slides": len(document.get("slides") or []),
        }
        for story_id, document in documents
    ]
    return sorted(summaries, key=lambda story: (story["ownerId"], story["title"], story["storyId"]))


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")
