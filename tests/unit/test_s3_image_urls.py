"""Image URLs presigned at the start of a fixed window: the same URL for a key all window long,
valid at least IMAGE_URL_EXPIRY_SECONDS from whenever it is handed out, and signed exactly as
botocore signs (checked against its own presigned URLs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from storyimages.adapters.s3_images import MAX_PRESIGNED_SECONDS, S3ImageStorage, presigned_get_url
from storyimages.settings import StorageSettings
from tests.fakes import FixedClock

KEY = "images/story-1/auto-gen-story-1-1795510800000/slide-1.png"
SIGV4_TIME = "%Y%m%dT%H%M%SZ"


def _session(token: str | None = None, region: str = "eu-west-1") -> Any:
    return boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",  # AWS documentation example
        aws_session_token=token,
        region_name=region,
    )


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _signed_at(url: str) -> datetime:
    return datetime.strptime(_query(url)["X-Amz-Date"], SIGV4_TIME).replace(tzinfo=UTC)


ODD_KEY = "a b/ü+%/slide 1.png"
TOKEN = "session/token+with=odd chars"


@pytest.mark.parametrize(
    ("region", "endpoint", "addressing", "token", "bucket", "key"),
    [
        # AWS: virtual-hosted by default, the global endpoint in us-east-1, a regional one elsewhere.
        ("us-east-1", None, None, None, "storyimages-images", KEY),
        ("eu-west-1", None, None, TOKEN, "storyimages-images", ODD_KEY),
        ("eu-west-1", None, "path", TOKEN, "storyimages-images", KEY),
        ("us-east-1", None, "virtual", None, "storyimages-images", ODD_KEY),
        # A bucket name with dots cannot be a host name: path style.
        ("eu-west-1", None, None, None, "dotted.bucket", ODD_KEY),
        # AWS_ENDPOINT_URL at moto (path style on an address), or another S3 with a port.
        ("us-east-1", "http://127.0.0.1:5000", None, None, "storyimages-local-images", KEY),
        ("us-east-1", "http://127.0.0.1:5000", None, TOKEN, "storyimages-local-images", ODD_KEY),
        ("eu-west-1", "https://s3.example.com:8443", None, TOKEN, "storyimages-images", KEY),
        ("eu-west-1", "https://s3.example.com:443", "path", None, "dotted.bucket", ODD_KEY),
    ],
)
def test_given_botocores_presigned_url_when_signed_here_at_its_time_then_the_urls_are_identical(
    region: str, endpoint: str | None, addressing: str | None, token: str | None, bucket: str, key: str
) -> None:
    session = _session(token, region)
    s3 = {"addressing_style": addressing} if addressing else None
    signing = session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4", s3=s3))
    addresses = session.client("s3", endpoint_url=endpoint, config=Config(signature_version=UNSIGNED, s3=s3))
    params = {"Bucket": bucket, "Key": key}
    theirs = signing.generate_presigned_url("get_object", Params=params, ExpiresIn=5400)

    ours = presigned_get_url(
        addresses.generate_presigned_url("get_object", Params=params),
        session.get_credentials().get_frozen_credentials(),
        region=region,
        signed_at=_signed_at(theirs),
        expires_in=5400,
    )

    assert ours == theirs


def test_given_polls_within_a_window_when_urls_are_made_then_they_are_identical_and_the_next_window_changes_them() -> (
    None
):
    clock = FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))  # a window starts here (3600 // 2 s windows)
    storage = S3ImageStorage("bucket", session=_session(), url_expiry_seconds=3600, clock=clock)

    first = storage.url_for(KEY)
    clock.advance(seconds=1795)
    last_in_window = storage.url_for(KEY)
    clock.advance(seconds=10)
    next_window = storage.url_for(KEY)

    assert first == last_in_window
    assert next_window != first
    assert _signed_at(first) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert _signed_at(next_window) == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("expiry", [60, 61, 3600, 86400, 4 * 24 * 3600])
@pytest.mark.parametrize("into_window", [0.0, 0.5, 1.0])
def test_given_a_url_handed_out_anywhere_in_its_window_then_it_stays_valid_the_whole_expiry(
    expiry: int, into_window: float
) -> None:
    window_start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    handed_out = window_start + timedelta(seconds=int(into_window * (expiry // 2 - 1)))
    storage = S3ImageStorage("bucket", session=_session(), url_expiry_seconds=expiry, clock=FixedClock(handed_out))

    url = storage.url_for(KEY)

    valid_until = _signed_at(url) + timedelta(seconds=int(_query(url)["X-Amz-Expires"]))
    assert _signed_at(url) <= handed_out
    assert valid_until - handed_out >= timedelta(seconds=expiry)
    assert int(_query(url)["X-Amz-Expires"]) <= MAX_PRESIGNED_SECONDS


def test_given_the_longest_lifetime_the_settings_allow_then_its_urls_can_be_signed() -> None:
    (longest,) = [m.le for m in StorageSettings.model_fields["url_expiry_seconds"].metadata if hasattr(m, "le")]

    S3ImageStorage("bucket", session=_session(), url_expiry_seconds=longest)

    with pytest.raises(ValueError, match="cannot be signed"):
        S3ImageStorage("bucket", session=_session(), url_expiry_seconds=5 * 24 * 3600)


def test_given_session_credentials_when_a_url_is_made_then_it_carries_their_token() -> None:
    storage = S3ImageStorage("bucket", session=_session(token="lambda-role-token"), clock=FixedClock())

    assert _query(storage.url_for(KEY))["X-Amz-Security-Token"] == "lambda-role-token"


def test_given_the_deployments_settings_when_storage_is_made_from_them_then_urls_live_the_configured_lifetime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every function's storage comes from its settings: status, cancel and retry answer URLs alike.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = StorageSettings.from_env({"IMAGES_BUCKET": "storyimages-images", "IMAGE_URL_EXPIRY_SECONDS": "7200"})

    url = S3ImageStorage.from_settings(settings).url_for(KEY)

    assert _query(url)["X-Amz-Expires"] == str(7200 + 3600)
    assert urlsplit(url).path.endswith(KEY)
