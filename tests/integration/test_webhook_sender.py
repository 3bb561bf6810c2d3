"""The webhook sender against a real receiver on 127.0.0.1: pinned addresses, tried in order."""

from __future__ import annotations

import pytest

from storyimages.adapters.webhook_sender import PinnedWebhookSender
from storyimages.domain.errors import WebhookDeliveryFailed
from storyimages.domain.ports import WebhookRequest, WebhookTarget
from tests.webhook_receiver import WebhookReceiver


def request_to(receiver: WebhookReceiver, *addresses: str) -> WebhookRequest:
    port = int(receiver.url.split(":")[2].split("/")[0])
    target = WebhookTarget(receiver.url, "http", "hooks.example.com", port, "/hooks/storyimages?x=1", addresses)
    return WebhookRequest(target, {"content-type": "application/json", "webhook-id": "m-1"}, b'{"a":1}')


def test_given_an_unreachable_first_address_when_sent_then_the_next_checked_address_gets_it() -> None:
    with WebhookReceiver(answers=[202]) as receiver:
        status = PinnedWebhookSender().send(request_to(receiver, "127.0.0.2", "127.0.0.1"))
        (delivery,) = receiver.deliveries

    assert status == 202
    assert delivery.path == "/hooks/storyimages"
    assert delivery.headers["Host"].startswith("hooks.example.com")
    assert delivery.body == b'{"a":1}'


def test_given_no_address_that_answers_when_sent_then_delivery_failed() -> None:
    with WebhookReceiver() as receiver, pytest.raises(WebhookDeliveryFailed, match="could not connect"):
        PinnedWebhookSender().send(request_to(receiver, "127.0.0.2"))


def test_given_a_redirect_when_sent_then_it_is_not_followed() -> None:
    with WebhookReceiver(answers=[307]) as receiver:
        status = PinnedWebhookSender().send(request_to(receiver, "127.0.0.1"))

    assert status == 307
    assert len(receiver.deliveries) == 1
