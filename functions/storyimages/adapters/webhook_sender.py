"""POST a webhook to an address that was checked, not to whatever the name resolves to now.

The connection goes to one of the target's checked IP addresses while TLS still verifies
the certificate against the URL's host name (SNI and hostname checks use the name), so a DNS
answer that changes after the check cannot redirect the delivery."""

from __future__ import annotations

import urllib3

from storyimages.domain.errors import WebhookDeliveryFailed
from storyimages.domain.webhooks import WebhookRequest

TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)


class PinnedWebhookSender:
    def __init__(self, timeout: urllib3.Timeout = TIMEOUT) -> None:
        self._timeout = timeout

    def send(self, request: WebhookRequest) -> int:
        target = request.target
        address = target.addresses[0]
        headers = {
            "host": target.host if target.port in {80, 443} else f"{target.host}:{target.port}",
            **request.headers,
        }
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
            response = pool.urlopen("POST", target.path, body=request.body, headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            raise WebhookDeliveryFailed(f"could not deliver to {target.host}: {type(exc).__name__}") from exc
        finally:
            pool.close()
        return int(response.status)
