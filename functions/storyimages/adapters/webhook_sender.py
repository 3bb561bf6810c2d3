"""POST a webhook to an address that was checked, not to whatever the name resolves to now.

Each checked address is tried in turn until one connects; TLS still verifies the certificate
against the URL's host name (SNI and hostname checks use the name), so a DNS answer that
changes after the check cannot redirect the delivery. The answer's body is not read beyond
a few bytes and the whole exchange has one deadline: a receiver cannot hold a delivery open
or fill its memory."""

from __future__ import annotations

import ipaddress

import urllib3

from storyimages.domain.errors import WebhookDeliveryFailed
from storyimages.domain.ports import WebhookRequest, WebhookTarget
from storyimages.observability import tracer

TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0, total=15.0)
MAX_ANSWER_BYTES = 4096


class PinnedWebhookSender:
    def __init__(self, timeout: urllib3.Timeout = TIMEOUT) -> None:
        self._timeout = timeout

    @tracer.capture_method
    def send(self, request: WebhookRequest) -> int:
        target, failure = request.target, "no address"
        for address in target.addresses:
            try:
                return self._post(address, request)
            except urllib3.exceptions.NewConnectionError as exc:
                failure = type(exc).__name__  # unreachable from here: try the next address
            except urllib3.exceptions.HTTPError as exc:
                raise WebhookDeliveryFailed(f"could not deliver to {target.host}: {type(exc).__name__}") from exc
        raise WebhookDeliveryFailed(f"could not connect to {target.host}: {failure}")

    def _post(self, address: str, request: WebhookRequest) -> int:
        target = request.target
        headers = {"host": _host_header(target), **request.headers}
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
                timeout=self._timeout,
                retries=False,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=self._timeout, retries=False)
        try:
            response = pool.urlopen(
                "POST", target.path, body=request.body, headers=headers, redirect=False, preload_content=False
            )
            response.read(MAX_ANSWER_BYTES)
            response.release_conn()
            return int(response.status)
        finally:
            pool.close()


def _host_header(target: WebhookTarget) -> str:
    host = target.host
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a name, not an address literal
    return host if target.port in {80, 443} else f"{host}:{target.port}"
