"""Webhooks on every terminal state: signed (Standard Webhooks), retried by their own state
machine, their outcome on the master job; only public https receivers are accepted."""

from __future__ import annotations

import base64
import secrets

import pytest

from tests.webhook_receiver import Delivery, WebhookReceiver
from tests.webhook_verification import VERIFIERS, Refused, verified
from tests.workflow_runs import master_jobs_of, wait_for


def verify(secret: str, delivery: Delivery) -> dict:
    """What a receiver does: check the delivery with a Standard Webhooks library (both the PyPI
    and the npm one), then trust the body."""
    event: dict = verified(secret, delivery.headers, delivery.body)
    return event


def webhook_run(stack, job_id: str, run: int = 0):  # type: ignore[no-untyped-def]
    return wait_for(stack, job_id, execution=f"{job_id}-notify-{run}", machine=stack.webhook_state_machine_arn)


def test_given_a_webhook_url_when_the_job_completes_then_a_signed_event_arrives_and_is_recorded(
    stack, api, new_story, images
) -> None:
    with WebhookReceiver() as receiver:
        job_id = api.start_job(new_story(2), webhookUrl=receiver.url)
        api.wait(job_id)
        (delivery,) = receiver.wait_for(1)
        webhook_run(stack, job_id)

    event = verify(stack.webhook_secret, delivery)
    assert delivery.path == "/hooks/storyimages"
    assert event["type"] == "image_job.completed"
    assert event["data"] == {
        "masterJobId": job_id,
        "storyId": event["data"]["storyId"],
        "status": "completed",
        "run": 0,
        "summary": {"totalSlides": 2, "completed": 2, "errors": 0, "skipped": 0},
    }
    webhook = api.status(job_id).json()["data"]["masterJob"]["webhook"]
    assert (webhook["status"], webhook["attempts"], webhook["lastStatusCode"]) == ("delivered", 1, 204)


def test_given_a_receiver_that_fails_at_first_when_delivered_then_it_is_retried_with_the_same_id(
    stack, api, new_story, images
) -> None:
    with WebhookReceiver(answers=[500]) as receiver:
        job_id = api.start_job(new_story(1), webhookUrl=receiver.url)
        first, second = receiver.wait_for(2)
        assert webhook_run(stack, job_id).status == "SUCCEEDED"

    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"] == f"{job_id}-0"
    verify(stack.webhook_secret, second)
    webhook = api.status(job_id).json()["data"]["masterJob"]["webhook"]
    assert (webhook["status"], webhook["attempts"]) == ("delivered", 2)


def test_given_a_receiver_that_never_takes_it_when_retries_run_out_then_the_job_says_so_and_stays_completed(
    stack, api, new_story, images
) -> None:
    with WebhookReceiver(answers=[500] * 10) as receiver:
        job_id = api.start_job(new_story(1), webhookUrl=receiver.url)
        assert webhook_run(stack, job_id).status == "FAILED"
        attempts = len(receiver.deliveries)

    data = api.status(job_id).json()["data"]
    assert data["masterJob"]["status"] == "completed"
    webhook = data["masterJob"]["webhook"]
    assert (webhook["status"], webhook["attempts"], webhook["lastStatusCode"]) == ("failed", attempts, 500)
    assert attempts == 3  # the first try and the two retries the local stack allows
    assert wait_for(stack, job_id).status == "SUCCEEDED"


def test_given_a_cancelled_job_when_it_has_a_webhook_then_the_cancellation_is_delivered(
    stack, api, new_story, images
) -> None:
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.3}])
    with WebhookReceiver() as receiver:
        job_id = api.start_job(new_story(4), webhookUrl=receiver.url)
        api.cancel(job_id)
        (delivery,) = receiver.wait_for(1)

    assert verify(stack.webhook_secret, delivery)["type"] == "image_job.cancelled"


def test_given_a_job_where_every_slide_fails_when_it_ends_then_the_failure_is_delivered(
    stack, api, new_story, images
) -> None:
    images.set_faults([{"kind": "reject", "match": None, "times": None}])
    with WebhookReceiver() as receiver:
        job_id = api.start_job(new_story(2), webhookUrl=receiver.url)
        (delivery,) = receiver.wait_for(1)

    event = verify(stack.webhook_secret, delivery)
    assert (event["type"], event["data"]["summary"]["errors"]) == ("image_job.failed", 2)
    assert api.status(job_id).json()["data"]["masterJob"]["status"] == "failed"


@pytest.mark.parametrize("verifier", sorted(VERIFIERS))
def test_given_a_delivered_event_when_its_body_is_altered_or_the_secret_is_wrong_then_the_verifier_refuses_it(
    stack, api, new_story, images, verifier: str
) -> None:
    with WebhookReceiver() as receiver:
        api.start_job(new_story(1), webhookUrl=receiver.url)
        (delivery,) = receiver.wait_for(1)
    verify_with = VERIFIERS[verifier]
    altered = delivery.body.replace(b'"errors":0', b'"errors":1')
    other_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    assert altered != delivery.body
    assert verify_with(stack.webhook_secret, delivery.headers, delivery.body)["data"]["status"] == "completed"

    with pytest.raises(Refused, match="No matching signature"):
        verify_with(stack.webhook_secret, delivery.headers, altered)
    with pytest.raises(Refused, match="No matching signature"):
        verify_with(other_secret, delivery.headers, delivery.body)


@pytest.fixture
def production_webhooks(stack):  # type: ignore[no-untyped-def]
    """The Lambdas redeployed as in AWS: no loopback receivers."""
    stack.redeploy(webhook_allow_loopback=False)
    yield
    stack.redeploy(webhook_allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "http://127.0.0.1:8080/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://[::ffff:169.254.169.254]/latest/meta-data",
        "https://10.0.0.5/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.10/hook",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
        "https://2130706433/hook",  # 127.0.0.1 written as one number
        "https://metadata.google.internal/computeMetadata/v1/",
        "http://example.com/hook",
        "https://user:secret@example.com/hook",
    ],
)
def test_given_a_webhook_url_that_could_reach_inside_when_started_then_422_and_no_job(
    stack, api, new_story, production_webhooks, url: str
) -> None:
    story = new_story(1)

    response = api.start(story, webhookUrl=url)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "INVALID_WEBHOOK_URL"
    assert master_jobs_of(stack, story) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "not a url", ""])
def test_given_a_webhook_url_that_is_not_http_when_started_then_the_schema_refuses_it(stack, api, url: str) -> None:
    response = api.start("abc", webhookUrl=url)

    assert (response.status_code, response.json()["error"]["code"]) == (422, "INVALID_REQUEST")
    assert response.json()["error"]["details"][0]["field"] == "body.webhookUrl"
