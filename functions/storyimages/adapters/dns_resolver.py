"""DNS answers for webhook hosts, from the system resolver."""

from __future__ import annotations

import ipaddress
import socket


class SystemResolver:
    def resolve(self, host: str) -> list[str]:
        """IPv4 first: a Lambda outside a VPC has no IPv6 route, and tries them in order."""
        try:
            answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        addresses = {str(answer[4][0]) for answer in answers}
        return sorted(addresses, key=lambda a: (ipaddress.ip_address(a.split("%", 1)[0]).version, a))
