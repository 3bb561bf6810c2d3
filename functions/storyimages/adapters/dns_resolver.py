"""DNS answers for webhook hosts, from the system resolver."""

from __future__ import annotations

import socket


class SystemResolver:
    def resolve(self, host: str) -> list[str]:
        try:
            answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        return sorted({str(answer[4][0]) for answer in answers})
