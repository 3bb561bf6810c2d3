"""Serve a WSGI app on 127.0.0.1 in a background thread, and stop it again."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

# Request lines from every local server would drown the demo's progress output.
logging.getLogger("werkzeug").setLevel(logging.ERROR)


class BackgroundServer:
    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "server",
        request_handler: type[WSGIRequestHandler] | None = None,
    ) -> None:
        self._server = make_server(host, port, app, threaded=True, request_handler=request_handler)
        # A short poll interval makes stop() quick (werkzeug's default is half a second).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self.host = host
        self.port = int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never began
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
