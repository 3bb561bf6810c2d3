"""Secrets read through moto's Secrets Manager over HTTP: once within their max age, and a
rotated value once that age has passed; the OpenAI client asks for its key before each request."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from storyimages.adapters import openai_images
from storyimages.adapters.openai_images import OpenAIImageGenerator
from storyimages.adapters.secrets import secret_string
from storyimages.domain.jobs import ImageSpec
from storyimages.domain.ports import ImageRequest
from storyimages.settings import OpenAISettings
from tests.waiting import wait_until


class CountedSecretsManager:
    """A boto3 Secrets Manager client on the moto server, counting the GetSecretValue requests it sends."""

    def __init__(self, url: str) -> None:
        self.client = boto3.client(
            "secretsmanager",
            endpoint_url=url,
            region_name="eu-west-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        self.reads = 0
        self.client.meta.events.register("before-send.secrets-manager.GetSecretValue", self._count)

    def _count(self, **_: Any) -> None:
        self.reads += 1

    def create(self, value: str) -> str:
        name = f"storyimages-{uuid.uuid4().hex[:8]}"
        self.client.create_secret(Name=name, SecretString=value)
        return name

    def rotate(self, name: str, value: str) -> None:
        self.client.put_secret_value(SecretId=name, SecretString=value)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    server.stop()


@pytest.fixture
def secrets(moto_url: str) -> CountedSecretsManager:
    return CountedSecretsManager(moto_url)  # a client of its own: a provider, and a cache, of its own


def test_given_a_secret_when_read_within_its_max_age_then_one_request_and_a_rotation_is_not_seen_yet(
    secrets: CountedSecretsManager,
) -> None:
    name = secrets.create("whsec_first")

    reads = [secret_string(name, secrets.client, max_age=300) for _ in range(5)]
    secrets.rotate(name, "whsec_second")

    assert reads == ["whsec_first"] * 5
    assert secret_string(name, secrets.client, max_age=300) == "whsec_first"
    assert secrets.reads == 1


def test_given_a_rotated_secret_when_its_max_age_has_passed_then_the_new_value_is_read(
    secrets: CountedSecretsManager,
) -> None:
    name = secrets.create("whsec_first")
    assert secret_string(name, secrets.client, max_age=1) == "whsec_first"

    secrets.rotate(name, "whsec_second")

    wait_until(
        lambda: secret_string(name, secrets.client, max_age=1) == "whsec_second",
        "the rotated secret read",
        seconds=10,
    )
    assert secrets.reads == 2  # every read in between came from the cache


class ImagesApi(BaseHTTPRequestHandler):
    """Answers every image request with a tiny image and records the key it came with."""

    keys: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.keys.append(self.headers.get("Authorization", ""))
        body = json.dumps({"created": 0, "data": [{"b64_json": base64.b64encode(b"png").decode()}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def images_api() -> Iterator[tuple[str, list[str]]]:
    keys: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Recording", (ImagesApi,), {"keys": keys}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", keys
    server.shutdown()
    server.server_close()


def test_given_the_openai_key_rotated_when_the_same_generator_draws_again_then_it_sends_the_new_key(
    secrets: CountedSecretsManager, images_api: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, keys = images_api
    name = secrets.create("sk-first")
    # The adapter's secret reads, through this test's client and a max age the test can wait out.
    monkeypatch.setattr(
        openai_images, "secret_string", lambda secret_id: secret_string(secret_id, secrets.client, max_age=1)
    )
    generator = OpenAIImageGenerator(
        OpenAISettings.model_validate({"OPENAI_API_KEY_SECRET_ID": name, "OPENAI_BASE_URL": base_url})
    )
    request = ImageRequest(prompt="a fox", spec=ImageSpec(model="gpt-image-2", size="1024x1024", quality="low"))

    generator.generate(request)
    secrets.rotate(name, "sk-second")
    wait_until(lambda: generator.generate(request) and keys[-1] == "Bearer sk-second", "the rotated key sent", 10)

    assert keys[0] == "Bearer sk-first"
    assert set(keys) == {"Bearer sk-first", "Bearer sk-second"}
