"""The whole local stack in one object: start it, use it over HTTP, stop it.

Everything binds 127.0.0.1. The Lambdas (API, authorizer and state machine tasks) run in the
local Lambda runtime, each with the environment the synthesized template gives it
(`infra.function_catalogue`, from the same deployment configuration), changing only what points
at local peers and credentials (LOCAL_VARIABLES), so the code and configuration that run here
are the ones that run there.

Tracing is active, as deployed: an X-Ray daemon stand-in (`traces`, local_stack.xray_daemon)
records what the functions' X-Ray SDK sends (the runtime gives every environment its address as
AWS_XRAY_DAEMON_ADDRESS, with Lambda's other X-Ray variables) and the segments the gateway and the
runtime send for each API request and each invocation.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from infra import image_queue
from infra.config import CONTEXT_KEY, StackConfig
from infra.function_catalogue import Reference, function_name, function_specs
from local_stack.app_page import WEB_DIST, AppPage, story_summaries
from local_stack.aws import MotoAws, MotoLambdaBridge
from local_stack.event_bus import PRODUCTION_RETRY_DELAYS, ExecutionEventBus
from local_stack.firestore_emulator import FirestoreEmulator
from local_stack.firestore_proxy import FirestoreProxy, OutageMode
from local_stack.gateway import CERTS_PATH, Gateway, RawHeadersRequestHandler
from local_stack.http_server import BackgroundServer
from local_stack.identity import DevIdentities
from local_stack.images_server import start_images_server
from local_stack.lambda_runtime import ACCOUNT, REGION, LambdaRuntime, LocalFunction
from local_stack.seed import EXAMPLES_DIR, example_stories, seed_stories
from local_stack.sqs_poller import SqsEventSource
from local_stack.xray_daemon import XRayDaemon
from statemachine import definition

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"
BUCKET = "storyimages-local-images"
OPENAI_SECRET = "storyimages/openai-api-key"
WEBHOOK_SECRET = "storyimages/webhook-signing-secret"
FIREBASE_SECRET = "storyimages/firebase-service-account"
PROJECT_ID = "demo-storyimages"
LOCAL_OPENAI_KEY = "sk-local-images-server"
IMAGE_QUEUE = "storyimages-local-images"
IMAGE_DEAD_LETTER_QUEUE = "storyimages-local-images-dead-letters"

# What the local stack sets in a function's environment beyond the template's: where its peers
# listen, the credentials they take, and local mode (which unlocks the development tokens and
# loopback webhooks, and which the settings refuse inside AWS Lambda).
LOCAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "FIRESTORE_EMULATOR_HOST",
    "OPENAI_BASE_URL",
    "AUTH_LOCAL_CERTS_URL",
    "STORYIMAGES_ENV",
    "WEBHOOK_ALLOW_LOOPBACK",
)

# Retries as in production (the same budget of attempts) but with short intervals and caps, so
# a fault test takes seconds.
FAST_RETRIES: Mapping[str, int] = {
    "RateLimitRetryIntervalSeconds": 1,
    "RateLimitRetryMaxAttempts": definition.RETRY_DEFAULTS["RateLimitRetryMaxAttempts"],
    "RateLimitRetryMaxDelaySeconds": 2,
    "TransientRetryIntervalSeconds": 1,
    "TransientRetryMaxAttempts": definition.RETRY_DEFAULTS["TransientRetryMaxAttempts"],
    "TransientRetryMaxDelaySeconds": 2,
    "StoreRetryIntervalSeconds": 1,
    "StoreRetryMaxAttempts": definition.RETRY_DEFAULTS["StoreRetryMaxAttempts"],
    "StoreRetryMaxDelaySeconds": 2,
    "WebhookRetryIntervalSeconds": 1,
    "WebhookRetryMaxAttempts": 2,
}

# `make local` / `make demo` settings over the deployment's configuration (README "The local stack").
SETTINGS_FROM_ENV = {
    "DELAY_SECONDS": "delaySeconds",
    "MAX_CONCURRENCY": "maxConcurrency",
    "IMAGE_SIZE": "imageSize",
    "IMAGE_QUALITY": "imageQuality",
    "LOG_LEVEL": "logLevel",
    "CORS_ALLOWED_ORIGINS": "corsAllowedOrigins",
}


# LocalConfig fields fixed once the stack runs (the servers, the state machines, the seed).
RESTART_ONLY = frozenset({"gateway_port", "retries", "real_openai_key", "examples_dir", "logs_dir", "web_root"})


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes"}


def deployment(overrides: Mapping[str, Any] | None = None, *, cdk_json: Path | None = CDK_JSON) -> StackConfig:
    """The configuration `cdk deploy` would use (cdk.json's context), for the local Firebase
    project, with `overrides` (by cdk.json key). Without cdk.json, the defaults."""
    context = json.loads(cdk_json.read_text())["context"].get(CONTEXT_KEY, {}) if cdk_json else {}
    try:
        return StackConfig.model_validate({**context, "firebaseProjectId": PROJECT_ID, **(overrides or {})})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"invalid local stack configuration: {problems}") from None


@dataclass(frozen=True)
class LocalConfig:
    deployment: StackConfig = field(default_factory=lambda: deployment(cdk_json=None))
    gateway_port: int = 0
    retries: Mapping[str, int] = field(default_factory=dict)  # over the ASL's production numbers
    real_openai_key: str | None = None
    examples_dir: Path | None = EXAMPLES_DIR
    webhook_allow_loopback: bool = False
    logs_dir: Path | None = None  # the Lambdas' log files; a fresh temporary folder if None
    # Lambda's asynchronous retries of an EventBridge event (EndAbandonedJob), in seconds.
    event_retry_delays: tuple[float, ...] = PRODUCTION_RETRY_DELAYS
    # Each function reaches the emulator through a proxy of its own, so that a fault test can
    # take Firestore away from all of them or from some (`firestore_outage`, `restart_firestore`).
    firestore_proxies: bool = False
    # The progress page's static files, served at `/` (None: no page).
    web_root: Path | None = WEB_DIST

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, *, cdk_json: Path = CDK_JSON) -> LocalConfig:
        """`make local` and `make demo`: cdk.json's deployment with the settings in README "The local stack"."""
        mode = env.get("STORYIMAGES_OPENAI", "local")
        if mode not in {"local", "real"}:
            raise SystemExit("STORYIMAGES_OPENAI must be `local` (default) or `real`")
        key = env.get("OPENAI_API_KEY") if mode == "real" else None
        if mode == "real" and not key:
            raise SystemExit("STORYIMAGES_OPENAI=real needs OPENAI_API_KEY")
        overrides: dict[str, Any] = {key: env[name] for name, key in SETTINGS_FROM_ENV.items() if name in env}
        if "corsAllowedOrigins" in overrides:
            overrides["corsAllowedOrigins"] = [
                o.strip() for o in overrides["corsAllowedOrigins"].split(",") if o.strip()
            ]
        logs = env.get("LAMBDA_LOGS_DIR")
        return cls(
            deployment=deployment(overrides, cdk_json=cdk_json),
            gateway_port=int(env.get("PORT", "3000")),
            real_openai_key=key,
            webhook_allow_loopback=_flag(env.get("WEBHOOK_ALLOW_LOOPBACK", "false")),
            logs_dir=Path(logs) if logs else None,
        )

    def changed(self, **changes: Any) -> LocalConfig:
        """This configuration with `changes`, each a LocalConfig or a StackConfig field."""
        own = {f.name for f in fields(self)}
        deployed = {key: value for key, value in changes.items() if key not in own}
        config = replace(self, **{key: value for key, value in changes.items() if key in own})
        if deployed:
            values = {**config.deployment.model_dump(), **deployed}
            config = replace(config, deployment=StackConfig.model_validate(values))
        return config


class LocalStack:
    _running: LocalStack | None = None

    def __init__(self, config: LocalConfig | None = None) -> None:
        self.config = config or LocalConfig()
        self._temporary_logs = self.config.logs_dir is None
        logs_dir = self.config.logs_dir or Path(tempfile.mkdtemp(prefix="storyimages-lambda-logs-"))
        self.firestore = FirestoreEmulator()
        # The X-Ray daemon: every trace document of the run (`traces.tree(trace_id)` to read one).
        self.traces = XRayDaemon()
        self.lambdas = LambdaRuntime(logs_dir)
        self.aws = MotoAws(lambdas=MotoLambdaBridge(self.lambdas))
        self.identities = DevIdentities(self.config.deployment.firebase_project_id)
        page = AppPage(self.config.web_root, self.local_stories) if self.config.web_root is not None else None
        self.gateway_app = Gateway(
            self.lambdas,
            identities=self.identities,
            cors_origins=self.config.deployment.cors_allowed_origins,
            page=page,
        )
        self.images: Any = None
        self.events: ExecutionEventBus | None = None
        self.image_source: SqsEventSource | None = None
        self.image_queue_url = self.image_dead_letters_url = ""
        self.firestore_proxies: dict[str, FirestoreProxy] = {}
        self.gateway: BackgroundServer | None = None
        self.resources: dict[Reference, str] = {}
        self.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.story_ids: list[str] = []
        self._saved_env: dict[str, str | None] = {}
        self._db: Any = None

    @property
    def url(self) -> str:
        assert self.gateway is not None, "start the stack first"
        return self.gateway.url

    @property
    def state_machine_arn(self) -> str:
        return self.resources[Reference.IMAGE_GENERATION_STATE_MACHINE]

    @property
    def webhook_state_machine_arn(self) -> str:
        return self.resources[Reference.WEBHOOK_DELIVERY_STATE_MACHINE]

    def token(self, uid: str = "demo-user", **claims: Any) -> str:
        """A development ID token for `uid` that this stack's authorizer accepts."""
        return self.identities.token(uid, **claims)

    def start(self) -> LocalStack:
        # moto keeps its backends per process: a second stack would share the first one's AWS.
        if LocalStack._running is not None:
            raise RuntimeError("a local stack is already running in this process; use it, or stop it first")
        LocalStack._running = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.traces.start()
        self.lambdas.xray_daemon_address = self.gateway_app.xray_daemon_address = self.traces.address
        self.firestore.start()
        if self.config.firestore_proxies:
            for spec in function_specs(self.config.deployment).values():
                self.firestore_proxies[spec.name] = FirestoreProxy(self.firestore.host).start()
        if self.config.real_openai_key is None:
            self.images = start_images_server()
        self.aws.start()
        # Bound now, started last: the authorizer needs its URL in the environment.
        self.gateway = BackgroundServer(
            self.gateway_app, port=self.config.gateway_port, name="gateway", request_handler=RawHeadersRequestHandler
        )
        self.aws.create_bucket(BUCKET)
        openai_key = self.aws.create_secret(OPENAI_SECRET, self.config.real_openai_key or LOCAL_OPENAI_KEY)
        webhook_key = self.aws.create_secret(WEBHOOK_SECRET, self.webhook_secret)
        # Never read: with FIRESTORE_EMULATOR_HOST the functions connect anonymously.
        firebase_account = self.aws.create_secret(FIREBASE_SECRET, json.dumps({"type": "service_account"}))
        image_timeout = function_specs(self.config.deployment)["GenerateSlideImage"].timeout_seconds
        dead_letters_url, dead_letters_arn = self.aws.create_queue(
            IMAGE_DEAD_LETTER_QUEUE,
            visibility_timeout_seconds=30,
            retention_seconds=image_queue.DEAD_LETTER_RETENTION_SECONDS,
        )
        queue_url, queue_arn = self.aws.create_queue(
            IMAGE_QUEUE,
            visibility_timeout_seconds=image_queue.visibility_timeout_seconds(image_timeout),
            retention_seconds=image_queue.RETENTION_SECONDS,
            dead_letters=dead_letters_arn,
            max_receive_count=image_queue.MAX_RECEIVE_COUNT,
        )
        self.image_queue_url, self.image_dead_letters_url = queue_url, dead_letters_url
        machines = self.aws.create_state_machines(self.config.retries, image_queue_url=queue_url)
        self.resources = {
            Reference.FIREBASE_SERVICE_ACCOUNT: firebase_account,
            Reference.OPENAI_API_KEY: openai_key,
            Reference.WEBHOOK_SIGNING_KEY: webhook_key,
            Reference.IMAGES_BUCKET: BUCKET,
            Reference.IMAGE_GENERATION_STATE_MACHINE: machines[definition.IMAGE_GENERATION],
            Reference.WEBHOOK_DELIVERY_STATE_MACHINE: machines[definition.WEBHOOK_DELIVERY],
        }
        # This process is a client of the same peers (tests, seeding, the demo).
        self._set_environment(self._local_variables() | {"MOTO_PORT": str(self.aws.port)})
        self.lambdas.deploy(self.functions())
        self.events = ExecutionEventBus(
            lambda: self.aws.client("stepfunctions"),
            self.lambdas,
            state_machine_arn=self.state_machine_arn,
            function_name=function_name("EndAbandonedJob"),
            account=ACCOUNT,
            region=REGION,
            retry_delays=self.config.event_retry_delays,
        ).start()
        # Lambda's event source mapping: the image queue's messages to the image function, at
        # most the configured image concurrency at once.
        self.image_source = SqsEventSource(
            lambda: self.aws.client("sqs"),
            self.lambdas,
            queue_url=queue_url,
            queue_arn=queue_arn,
            function_name=function_name("GenerateSlideImage"),
            batch_size=image_queue.BATCH_SIZE,
            maximum_concurrency=self.config.deployment.image_concurrency,
            region=REGION,
        ).start()
        if self.config.examples_dir is not None:
            self.story_ids = seed_stories(self.db, example_stories(self.config.examples_dir))
        self.gateway.start()

    def functions(self) -> dict[str, LocalFunction]:
        """Every function of the template, by its local name, configured as the template configures it."""
        functions = {}
        for spec in function_specs(self.config.deployment).values():
            name = function_name(spec.name)
            functions[name] = LocalFunction(
                name,
                spec.handler,
                self.environment(spec.name),
                spec.timeout_seconds,
                spec.memory_mb,
                reserved_concurrency=spec.reserved_concurrency,
            )
        return functions

    def environment(self, function: str) -> dict[str, str]:
        """What the function `function` (its logical name: "StartGeneration") runs with here."""
        spec = function_specs(self.config.deployment)[function]
        env = spec.resolved_environment(self.resources) | self._local_variables()
        if function in self.firestore_proxies:
            env["FIRESTORE_EMULATOR_HOST"] = self.firestore_proxies[function].host
        return env

    @contextlib.contextmanager
    def firestore_outage(self, mode: OutageMode = "refuse", functions: Iterable[str] | None = None) -> Iterator[None]:
        """Firestore gone for the functions named (their logical names; all of them by default)
        while the block runs: connections refused and reset, or stalled. This process's own
        client (`db`) still reaches the emulator, so a test can look at what was stored."""
        proxies = self._proxies(functions)
        for proxy in proxies:
            proxy.set_mode(mode)
        try:
            yield
        finally:
            for proxy in proxies:
                proxy.up()

    def restart_firestore(self) -> None:
        """Kill the emulator and start an empty one: every function reconnects to it (through its
        proxy), as after an outage of a store that kept nothing."""
        self._proxies(None)
        self.firestore.stop()
        self._forget_clients()
        self.firestore = FirestoreEmulator().start()
        self._set_environment({"FIRESTORE_EMULATOR_HOST": self.firestore.host})
        for proxy in self.firestore_proxies.values():
            proxy.retarget(self.firestore.host)

    def _proxies(self, functions: Iterable[str] | None) -> list[FirestoreProxy]:
        if not self.firestore_proxies:
            raise RuntimeError("start the stack with LocalConfig(firestore_proxies=True) for Firestore faults")
        names = list(self.firestore_proxies) if functions is None else list(functions)
        unknown = set(names) - set(self.firestore_proxies)
        if unknown:
            raise ValueError(f"no function {sorted(unknown)}; there are {sorted(self.firestore_proxies)}")
        return [self.firestore_proxies[name] for name in names]

    def redeploy(self, **changes: Any) -> None:
        """Change the configuration (StackConfig fields, or `webhook_allow_loopback`), as a
        deployment would: every function gets its new environment and cold-starts, and the
        gateway its new CORS origins. What only a new stack can change is refused."""
        restart_only = set(changes) & RESTART_ONLY
        if restart_only:
            raise ValueError(f"{sorted(restart_only)} take a new stack: stop this one and start another")
        self.config = self.config.changed(**changes)
        deployed = self.config.deployment
        self.gateway_app.cors_origins = list(deployed.cors_allowed_origins)
        self.identities.project_id = deployed.firebase_project_id  # the tokens' audience
        self.lambdas.deploy(self.functions())

    def logs(self, function: str) -> list[str]:
        """The log lines of `function` (its logical name) so far."""
        return self.lambdas.log_lines(function_name(function))

    def stop(self) -> None:
        for server in (self.gateway, self.images):
            if server is not None:
                server.stop()
        self.gateway = self.images = None
        if self.events is not None:
            self.events.stop()
            self.events = None
        if self.image_source is not None:
            self.image_source.stop()
            self.image_source = None
        if self.aws.port:
            self.aws.stop()  # first: executions still running stop calling the functions
        self.lambdas.stop()
        for proxy in self.firestore_proxies.values():
            proxy.stop()
        self.firestore_proxies = {}
        self.firestore.stop()
        self.traces.stop()  # what it recorded stays readable
        self._forget_clients()
        self._restore_environment()
        if LocalStack._running is self:
            LocalStack._running = None
        if self._temporary_logs:
            shutil.rmtree(self.lambdas.logs_dir, ignore_errors=True)

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

            self._db = firestore_client(FirestoreSettings.from_env(self.environment("JobStatus")))
        return self._db

    def local_stories(self) -> list[dict[str, Any]]:
        """Every story in the emulator, as the progress page lists them to pick from."""
        from storyimages.settings import FirestoreSettings

        collection = FirestoreSettings.from_env(self.environment("StartGeneration")).stories_collection
        return story_summaries([(doc.id, doc.to_dict() or {}) for doc in self.db.collection(collection).stream()])

    def _local_variables(self) -> dict[str, str]:
        """LOCAL_VARIABLES, as this stack sets them."""
        assert self.gateway is not None
        env = {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": self.aws.url,
            "FIRESTORE_EMULATOR_HOST": self.firestore.host,
            "AUTH_LOCAL_CERTS_URL": self.gateway.url + CERTS_PATH,
            "STORYIMAGES_ENV": "local",
            "WEBHOOK_ALLOW_LOOPBACK": str(self.config.webhook_allow_loopback).lower(),
        }
        if self.images is not None:
            env["OPENAI_BASE_URL"] = self.images.api_url
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

    def _forget_clients(self) -> None:
        """This process's Firebase clients pointed at this stack's emulator; the next stack makes its own."""
        import firebase_admin

        for app in list(firebase_admin._apps.values()):
            firebase_admin.delete_app(app)
        self._db = None
