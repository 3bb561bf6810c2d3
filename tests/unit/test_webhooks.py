from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime

import pytest

from storyimages.domain.errors import InvalidWebhookUrl, WebhookDeliveryFailed
from storyimages.domain.jobs import JobError, JobStatus, WebhookOutcome, WebhookStatus
from storyimages.domain.ports import WebhookRequest
from storyimages.domain.webhooks import (
    JobEnding,
    WebhookPolicy,
    check_webhook_url,
    deliver_webhook,
    record_webhook_failure,
    signature,
)
from tests.fakes import FakeResolver, FakeWebhookSender, FixedClock
from tests.job_world import World
from tests.webhook_verification import Refused, verify_with_python

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def finished_world(config) -> World:  # type: ignore[no-untyped-def]
    world = World(config, slides=2, webhook_url="https://hooks.example.com/story-done?team=7")
    world.generate(1)
    world.fail(2)
    world.finalize()
    return world


def ending(world: World, run: int = 0) -> JobEnding:
    """What the job's end put in the delivery's input (as StepFunctionsNotifier sends it)."""
    (notified,) = [s for s in world.notifier.summaries][-1:]
    return JobEnding(world.job_id, run, JobStatus.COMPLETED_WITH_ERRORS, notified)


def deliver(  # type: ignore[no-untyped-def]
    world: World,
    sender: FakeWebhookSender,
    attempt: int = 0,
    resolver: FakeResolver | None = None,
    clock: FixedClock | None = None,
):
    return deliver_webhook(
        ending(world),
        attempt,
        jobs=world.jobs,
        sender=sender,
        resolver=resolver or world.resolver,
        policy=WebhookPolicy(),
        secret=SECRET,
        clock=clock or world.clock,
    )


def delivered_now(world: World) -> tuple[WebhookRequest, WebhookOutcome]:
    """One delivery stamped with the wall clock: receivers refuse timestamps over 5 minutes off."""
    sender = FakeWebhookSender()
    outcome = deliver(world, sender, clock=FixedClock(datetime.now(UTC)))
    (request,) = sender.requests
    return request, outcome


def test_given_a_finished_job_when_its_webhook_is_delivered_then_the_post_is_signed_the_standard_webhooks_way(
    config,
) -> None:
    world = finished_world(config)

    request, outcome = delivered_now(world)

    headers = request.headers
    body = json.loads(request.body)
    assert verify_with_python(SECRET, headers, request.body) == body
    assert headers["webhook-id"] == f"{world.job_id}-0"
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


def test_given_a_signed_delivery_when_its_body_is_altered_then_the_library_refuses_it(config) -> None:
    request, _ = delivered_now(finished_world(config))
    altered = request.body.replace(b'"errors":1', b'"errors":0')
    assert altered != request.body

    with pytest.raises(Refused, match="No matching signature"):
        verify_with_python(SECRET, request.headers, altered)


def test_given_a_signed_delivery_when_checked_with_another_secret_then_the_library_refuses_it(config) -> None:
    request, _ = delivered_now(finished_world(config))

    with pytest.raises(Refused, match="No matching signature"):
        verify_with_python(OTHER_SECRET, request.headers, request.body)


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
        ending(world), JobError("WEBHOOK_DELIVERY_FAILED", "503"), jobs=world.jobs, clock=world.clock
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


def test_given_a_retry_since_the_job_ended_when_the_old_delivery_goes_out_then_it_says_what_it_said_and_records_nothing(
    config,
) -> None:
    # Given run 0 ended with one error, and the job was retried (run 1 in progress) since
    world = finished_world(config)
    first = ending(world)
    world.retry()
    sender = FakeWebhookSender()

    # When run 0's delivery (a late retry of it) goes out
    deliver_webhook(
        first,
        3,
        jobs=world.jobs,
        sender=sender,
        resolver=world.resolver,
        policy=WebhookPolicy(),
        secret=SECRET,
        clock=world.clock,
    )

    # Then it carries run 0's summary, and run 1's webhook record is left alone
    body = json.loads(sender.requests[0].body)
    assert (body["data"]["run"], body["data"]["summary"]["errors"]) == (0, 1)
    assert world.job.run == 1 and world.job.webhook is None


def test_given_the_generated_secret_without_prefix_when_signing_then_it_equals_the_prefixed_form() -> None:
    bare = SECRET.removeprefix("whsec_")

    assert signature(bare, "m", 1, b"{}") == signature(SECRET, "m", 1, b"{}")


def test_given_a_secret_stored_without_base64_padding_when_signing_then_receivers_verify_it() -> None:
    # Given a 31-byte key, whose base64 ends in "=", stored without it (both verifier libraries accept that)
    key = base64.b64encode(bytes(range(31))).decode()
    unpadded = "whsec_" + key.rstrip("=")
    body = b'{"type":"image_job.completed"}'
    now = int(datetime.now(UTC).timestamp())

    # When a delivery is signed with it
    headers = {
        "webhook-id": "m-1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature(unpadded, "m-1", now, body),
    }

    # Then it is signed with the same key as the padded form, and the library verifies it
    assert headers["webhook-signature"] == signature("whsec_" + key, "m-1", now, body)
    assert verify_with_python(unpadded, headers, body) == json.loads(body)


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "::127.0.0.1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    ids=["nat64", "6to4", "ipv4-compatible", "teredo"],
)
def test_given_an_ipv6_address_that_embeds_an_ipv4_one_when_checked_then_it_is_refused(address: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(f"https://[{address}]/hook", resolver=FakeResolver(), policy=WebhookPolicy())
