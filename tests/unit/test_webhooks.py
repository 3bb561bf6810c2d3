from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from storyimages.domain.errors import InvalidWebhookUrl, WebhookDeliveryFailed
from storyimages.domain.jobs import JobError, JobStatus, WebhookStatus
from storyimages.domain.webhooks import (
    WebhookPolicy,
    check_webhook_url,
    deliver_webhook,
    record_webhook_failure,
    signature,
)
from tests.fakes import FakeResolver, FakeWebhookSender
from tests.job_world import World

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def finished_world(config) -> World:  # type: ignore[no-untyped-def]
    world = World(config, slides=2, webhook_url="https://hooks.example.com/story-done?team=7")
    world.generate(1)
    world.fail(2)
    world.finalize()
    return world


def deliver(world: World, sender: FakeWebhookSender, attempt: int = 0, resolver: FakeResolver | None = None):  # type: ignore[no-untyped-def]
    return deliver_webhook(
        world.job_id,
        0,
        JobStatus.COMPLETED_WITH_ERRORS,
        attempt,
        jobs=world.jobs,
        sender=sender,
        resolver=resolver or world.resolver,
        policy=WebhookPolicy(),
        secret=SECRET,
        clock=world.clock,
    )


def test_given_a_finished_job_when_its_webhook_is_delivered_then_the_post_is_signed_the_standard_webhooks_way(
    config,
) -> None:
    world, sender = finished_world(config), FakeWebhookSender()

    outcome = deliver(world, sender)

    (request,) = sender.requests
    headers = request.headers
    expected = hmac.new(
        base64.b64decode(SECRET.removeprefix("whsec_")),
        f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body,
        hashlib.sha256,
    ).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert headers["webhook-id"] == f"{world.job_id}-0"
    body = json.loads(request.body)
    assert body["type"] == "image_job.completed_with_errors"
    assert body["data"] == {
        "masterJobId": world.job_id,
        "storyId": "fox",
        "status": "completed_with_errors",
        "run": 0,
        "summary": {"totalSlides": 2, "completed": 1, "errors": 1, "skipped": 0},
    }
    assert (request.target.host, request.target.path, request.target.addresses) == (
        "hooks.example.com",
        "/story-done?team=7",
        ("93.184.216.34",),
    )
    assert (outcome.status, outcome.attempts, outcome.last_status_code) == (WebhookStatus.DELIVERED, 1, 200)
    assert world.job.webhook == outcome


@pytest.mark.parametrize("answer", [500, 404, 301, None], ids=["500", "404", "redirect", "refused"])
def test_given_a_receiver_that_does_not_take_it_when_delivered_then_the_attempt_is_recorded_and_retried(
    config, answer: int | None
) -> None:
    world, sender = finished_world(config), FakeWebhookSender(statuses=[answer])

    with pytest.raises(WebhookDeliveryFailed):
        deliver(world, sender, attempt=2)

    webhook = world.job.webhook
    assert webhook is not None
    assert (webhook.status, webhook.attempts, webhook.last_status_code) == (WebhookStatus.RETRYING, 3, answer)


def test_given_dns_that_turned_private_when_delivered_then_nothing_is_sent(config) -> None:
    world, sender = finished_world(config), FakeWebhookSender()
    rebound = FakeResolver(answers={"hooks.example.com": ["10.0.0.7"]})

    with pytest.raises(InvalidWebhookUrl):
        deliver(world, sender, resolver=rebound)

    assert sender.requests == []


def test_given_retries_ran_out_when_the_failure_is_recorded_then_the_job_says_so(config) -> None:
    world = finished_world(config)
    with pytest.raises(WebhookDeliveryFailed):
        deliver(world, FakeWebhookSender(statuses=[503]), attempt=4)

    outcome = record_webhook_failure(
        world.job_id,
        JobStatus.COMPLETED_WITH_ERRORS,
        JobError("WEBHOOK_DELIVERY_FAILED", "503"),
        jobs=world.jobs,
        clock=world.clock,
    )

    assert (outcome.status, outcome.attempts, outcome.last_status_code) == (WebhookStatus.FAILED, 5, 503)
    assert world.job.webhook == outcome


def test_the_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # From the Standard Webhooks specification's test vectors.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'

    assert signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/x", True),
        ("https://93.184.216.34:8443/x", True),
        ("https://[2606:4700:4700::1111]/x", True),
        ("https://[fe80::1]/x", False),
        ("https://192.168.1.1/x", False),
        ("https://[::]/x", False),
        ("https://224.0.0.1/x", False),
    ],
)
def test_given_addresses_when_checked_then_only_global_ones_pass(url: str, allowed: bool) -> None:
    if allowed:
        assert check_webhook_url(url, resolver=FakeResolver(), policy=WebhookPolicy()).url == url
    else:
        with pytest.raises(InvalidWebhookUrl):
            check_webhook_url(url, resolver=FakeResolver(), policy=WebhookPolicy())
