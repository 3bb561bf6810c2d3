"""The app's side of the HTTP API, for end-to-end tests: a Firebase user with a token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

START = "/api/images/generate-all-automatically"
RUNNING = {"pending", "generating"}


@dataclass
class ApiClient:
    base_url: str
    token: str | None
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def start(self, story_id: str, headers: dict[str, str] | None = None, **fields: Any) -> requests.Response:
        body = {"storyId": story_id, **fields}
        return self.session.post(f"{self.base_url}{START}", json=body, headers=self.headers(headers), timeout=30)

    def start_job(self, story_id: str, **fields: Any) -> str:
        response = self.start(story_id, **fields)
        assert response.status_code == 202, response.text
        return str(response.json()["data"]["masterJobId"])

    def status(self, job_id: str) -> requests.Response:
        return self.session.get(f"{self.base_url}/api/images/master-job/{job_id}", headers=self.headers(), timeout=30)

    def cancel(self, job_id: str) -> requests.Response:
        return self.session.post(
            f"{self.base_url}/api/images/master-job/{job_id}/cancel", headers=self.headers(), timeout=30
        )

    def retry(self, job_id: str) -> requests.Response:
        return self.session.post(
            f"{self.base_url}/api/images/master-job/{job_id}/retry", headers=self.headers(), timeout=30
        )

    def polls(self, job_id: str, timeout: float = 60.0) -> Iterator[dict[str, Any]]:
        """Poll like the app does: each read's `data`, the last one the job's end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data: dict[str, Any] = self.status(job_id).json()["data"]
            yield data
            if data["masterJob"]["status"] not in RUNNING:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{job_id} had not ended within {timeout:g} s")

    def wait(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll like the app does until the job has ended; the last `data`."""
        *_, last = self.polls(job_id, timeout)
        return last
