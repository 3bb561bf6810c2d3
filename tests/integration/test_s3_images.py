"""The S3 image storage against a moto server, reached as the Lambdas reach AWS locally (through
AWS_ENDPOINT_URL): the presigned URL fetches the object, with the headers browsers cache it by,
and an image stored at a key stays the one stored first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from storyimages.adapters.s3_images import IMAGE_CACHE_CONTROL, S3ImageStorage

BUCKET = "storyimages-test-images"
KEY = "images/story-1/auto-gen-story-1-1795510800000/slide-1.png"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()


@pytest.fixture
def session(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    s3 = session.client("s3")
    if BUCKET not in {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return session


def test_given_a_stored_image_when_its_url_is_fetched_then_it_answers_the_image_for_browsers_to_cache(
    session: Any,
) -> None:
    storage = S3ImageStorage(BUCKET, session=session)
    storage.put(KEY, b"\x89PNG image", "image/png")

    image = requests.get(storage.url_for(KEY), timeout=10)

    assert image.status_code == 200
    assert image.content == b"\x89PNG image"
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Cache-Control"] == IMAGE_CACHE_CONTROL


def test_given_the_local_endpoint_when_a_url_is_made_then_it_is_path_style_on_that_endpoint(
    session: Any, moto_url: str
) -> None:
    url = S3ImageStorage(BUCKET, session=session).url_for(KEY)

    assert url.startswith(f"{moto_url}/{BUCKET}/{KEY}?")


def test_given_an_image_at_a_key_when_another_is_put_there_then_the_first_stays(session: Any) -> None:
    storage = S3ImageStorage(BUCKET, session=session)
    key = KEY.replace("slide-1", "slide-2")
    storage.put(key, b"first", "image/png")

    storage.put(key, b"second", "image/png")

    assert storage.get(key) == b"first"
