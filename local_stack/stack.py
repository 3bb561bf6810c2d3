"""The whole local stack in one object: start it, use it over HTTP, stop it.

Everything binds 127.0.0.1. The Lambdas (API, authorizer and state machine tasks) run in
this process, configured through environment variables exactly as in AWS, so the code that
runs here is the code that runs there.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from local_stack import lambda_runtime
from local_stack.aws import MotoAws, task_lambdas
from local_stack.firestore_emulator import FirestoreEmulator
from local_stack.gateway import CERTS_PATH, Gateway
from local_stack.http_server import BackgroundServer
from local_stack.identity import DevIdentities
from local_stack.images_server import start_images_server
from local_stack.seed import EXAMPLES_DIR, example_stories, seed_stories
from statemachine import definition

BUCKET = "storyimages-local-images"
OPENAI_SECRET = "storyimages/openai-api-key"
WEBHOOK_SECRET = "storyimages/webhook-signing-secret"
PROJECT_ID = "demo-storyimages"
LOCAL_OPENAI_KEY = "sk-local-images-server"
DEFAULT_CORS_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")  # a Vite dev server

# Retries as in production but with short intervals, so a fault test takes seconds.
FAST_RETRIES: Mapping[str, int] = {
    "RateLimitRetryIntervalSeconds": 1,
    "RateLimitRetryMaxAttempts": 3,
    "TransientRetryIntervalSeconds": 1,
    "TransientRetryMaxAttempts": 2,
    "WebhookRetryIntervalSeconds": 1,
    "WebhookRetryMaxAttempts": 2,
}


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class LocalConfig:
    gateway_port: int = 0
    delay_seconds: int = 2
    max_concurrency: int = 1
    image_size: str = "1024x1024"
    image_quality: str = "medium"
    retries: Mapping[str, int] = field(default_factory=lambda: dict(FAST_RETRIES))
    real_openai_key: str | None = None
    examples_dir: Path | None = EXAMPLES_DIR
    log_level: str = "WARNING"
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    webhook_allow_loopback: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> LocalConfig:
        """`make local` and `make demo` settings; see README "Configure"."""
        mode = env.get("STORYIMAGES_OPENAI", "local")
        if mode not in {"local", "real"}:
            raise SystemExit("STORYIMAGES_OPENAI must be `local` (default) or `real`")
        key = env.get("OPENAI_API_KEY") if mode == "real" else None
        if mode == "real" and not key:
            raise SystemExit("STORYIMAGES_OPENAI=real needs OPENAI_API_KEY")
        origins = env.get("CORS_ALLOWED_ORIGINS")
        return cls(
            gateway_port=int(env.get("PORT", "3000")),
            delay_seconds=int(env.get("DELAY_SECONDS", "2")),
            max_concurrency=int(env.get("MAX_CONCURRENCY", "1")),
            image_size=env.get("IMAGE_SIZE", "1024x1024"),
            image_quality=env.get("IMAGE_QUALITY", "medium"),
            retries={} if mode == "real" else dict(FAST_RETRIES),
            real_openai_key=key,
            log_level=env.get("LOG_LEVEL", "WARNING"),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()) if origins else DEFAULT_CORS_ORIGINS,
            webhook_allow_loopback=_flag(env.get("WEBHOOK_ALLOW_LOOPBACK", "false")),
        )


class LocalStack:
    def __init__(self, config: LocalConfig | None = None) -> None:
        self.config = config or LocalConfig()
        self.firestore = FirestoreEmulator()
        self.lambdas = task_lambdas()
        self.aws = MotoAws(lambdas=self.lambdas)
        self.identities = DevIdentities(PROJECT_ID)
        self.gateway_app = Gateway(identities=self.identities, cors_origins=self.config.cors_origins)
        self.images: Any = None
        self.gateway: BackgroundServer | None = None
        self.state_machine_arn = ""
        self.webhook_state_machine_arn = ""
        self.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.story_ids: list[str] = []
        self._saved_env: dict[str, str | None] = {}
        self._db: Any = None

    @property
    def url(self) -> str:
        assert self.gateway is not None, "start the stack first"
        return self.gateway.url

    def token(self, uid: str = "demo-user", **claims: Any) -> str:
        """A development ID token for `uid` that this stack's authorizer accepts."""
        return self.identities.token(uid, **claims)

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.firestore.start()
        if self.config.real_openai_key is None:
            self.images = start_images_server()
        self.aws.start()
        # Bound now, started last: the authorizer needs its URL in the environment.
        self.gateway = BackgroundServer(self.gateway_app, port=self.config.gateway_port, name="gateway")
        self._set_environment(self._lambda_environment())
        self.aws.create_bucket(BUCKET)
        self.aws.create_secret(OPENAI_SECRET, self.config.real_openai_key or LOCAL_OPENAI_KEY)
        self.aws.create_secret(WEBHOOK_SECRET, self.webhook_secret)
        machines = self.aws.create_state_machines(self.config.retries)
        self.state_machine_arn = machines[definition.IMAGE_GENERATION]
        self.webhook_state_machine_arn = machines[definition.WEBHOOK_DELIVERY]
        self._set_environment(
            {"STATE_MACHINE_ARN": self.state_machine_arn, "WEBHOOK_STATE_MACHINE_ARN": self.webhook_state_machine_arn}
        )
        if self.config.examples_dir is not None:
            self.story_ids = seed_stories(self.db, example_stories(self.config.examples_dir))
        self.gateway.start()

    def redeploy(self, env: Mapping[str, str]) -> None:
        """Change the Lambdas' configuration, as a deployment would: new environment, cold starts."""
        self._set_environment(env)
        self._forget_warm_lambdas()

    def stop(self) -> None:
        for server in (self.gateway, self.images):
            if server is not None:
                server.stop()
        self.gateway = self.images = None
        if self.aws.port:
            self.aws.stop()
        self.firestore.stop()
        self._forget_warm_lambdas()
        self._restore_environment()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def db(self) -> Any:
        """A Firestore client on the emulator, for seeding and for tests to look at documents."""
        if self._db is None:
            from storyimages.adapters.firestore_client import firestore_client
            from storyimages.settings import FirestoreSettings

            self._db = firestore_client(FirestoreSettings.from_env())
        return self._db

    def _lambda_environment(self) -> dict[str, str]:
        config = self.config
        assert self.gateway is not None
        env = {
            "STORYIMAGES_ENV": "local",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": self.aws.url,
            "MOTO_PORT": str(self.aws.port),  # where moto's ASL engine sends its Lambda calls
            "FIRESTORE_EMULATOR_HOST": self.firestore.host,
            "FIREBASE_PROJECT_ID": PROJECT_ID,
            "AUTH_LOCAL_CERTS_URL": self.gateway.url + CERTS_PATH,
            "IMAGES_BUCKET": BUCKET,
            "OPENAI_API_KEY_SECRET_ID": OPENAI_SECRET,
            "WEBHOOK_SECRET_ID": WEBHOOK_SECRET,
            "WEBHOOK_ALLOW_LOOPBACK": str(config.webhook_allow_loopback).lower(),
            "CORS_ALLOWED_ORIGINS": ",".join(config.cors_origins),
            "DELAY_SECONDS": str(config.delay_seconds),
            "MAX_CONCURRENCY": str(config.max_concurrency),
            "IMAGE_SIZE": config.image_size,
            "IMAGE_QUALITY": config.image_quality,
            "POWERTOOLS_SERVICE_NAME": "storyimages",
            "POWERTOOLS_LOG_LEVEL": config.log_level,
        }
        if self.images is not None:
            env["OPENAI_BASE_URL"] = self.images.api_url
        else:
            self._remember("OPENAI_BASE_URL")
            os.environ.pop("OPENAI_BASE_URL", None)
        return env

    def _remember(self, name: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))

    def _set_environment(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            self._remember(name)
            os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def _forget_warm_lambdas(self) -> None:
        """The next stack's handlers cold-start against its own servers, as new Lambdas would."""
        lambda_runtime.forget_handlers()
        for name in [n for n in sys.modules if n.startswith("storyimages.handlers.")]:
            del sys.modules[name]
        from storyimages.adapters.secrets import secret_string

        secret_string.cache_clear()
        import firebase_admin

        for app in list(firebase_admin._apps.values()):
            firebase_admin.delete_app(app)
        self._db = None
