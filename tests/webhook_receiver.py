"""A webhook receiver on 127.0.0.1 that records what it was sent and answers as scripted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from local_stack.http_server import BackgroundServer


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, answers: Iterable[int] = ()) -> None:
        self._answers = list(answers)
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self._server = BackgroundServer(self._app, name="webhook-receiver")

    @property
    def url(self) -> str:
        return f"{self._server.url}/hooks/storyimages"

    def answer(self, *statuses: int) -> None:
        """The next answers, in order; 204 once they run out."""
        with self._lock:
            self._answers = list(statuses)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.deliveries.append(Delivery(request.path, dict(request.headers), request.get_data()))
            status = self._answers.pop(0) if self._answers else 204
        return Response(status=status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.deliveries)} of {count} deliveries arrived")

    def __enter__(self) -> WebhookReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()
