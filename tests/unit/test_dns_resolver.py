from __future__ import annotations

import ipaddress

from storyimages.adapters.dns_resolver import SystemResolver


def test_given_a_dual_stack_name_when_resolved_then_ipv4_comes_first() -> None:
    # localhost has 127.0.0.1 and often ::1 in /etc/hosts; a Lambda outside a VPC reaches IPv4 only.
    addresses = SystemResolver().resolve("localhost")

    versions = [ipaddress.ip_address(a).version for a in addresses]
    assert versions and versions == sorted(versions)
    assert addresses[0] == "127.0.0.1"


def test_given_a_name_that_does_not_resolve_when_resolved_then_nothing() -> None:
    assert SystemResolver().resolve("nothing.invalid") == []
