"""Start jobs through the real adapters and wait for their Step Functions executions."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from google.cloud.firestore_v1.base_query import FieldFilter

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.dns_resolver import SystemResolver
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.firestore_stories import FirestoreStories
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.adapters.stepfunctions_workflow import StepFunctionsNotifier, StepFunctionsWorkflow
from storyimages.domain.identity import Caller
from storyimages.domain.jobs import MasterJob
from storyimages.domain.ports import Workflow
from storyimages.domain.start_generation import StartCommand, StartOptions, start_generation
from storyimages.settings import FirestoreSettings, ImageSettings, StartSettings, StorageSettings, WebhookSettings
from tests.fakes import FakeWorkflow


@dataclass
class Run:
    job_id: str
    execution: dict[str, Any]
    history: list[dict[str, Any]]
    job: MasterJob

    @property
    def status(self) -> str:
        return str(self.execution["status"])

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.history if e["type"] == kind]


def start_job(
    stack: Any,
    story_id: str,
    *,
    consistency: bool = True,
    options: StartOptions | None = None,
    workflow: Workflow | None = None,
    owner: str = "user-1",
) -> str:
    """Start a job as the start function does, with its configuration from the environment."""
    env = stack.environment("StartGeneration")
    firestore = FirestoreSettings.from_env(env)
    settings = StartSettings.from_env(env)
    sfn = stack.aws.client("stepfunctions")
    started = start_generation(
        StartCommand(story_id, use_character_consistency=consistency, options=options or StartOptions()),
        Caller(owner),
        stories=FirestoreStories.from_settings(firestore),
        jobs=FirestoreJobStore.from_settings(firestore),
        workflow=workflow or StepFunctionsWorkflow(stack.state_machine_arn, client=sfn),
        storage=S3ImageStorage(StorageSettings.from_env(env).bucket, client=stack.aws.client("s3")),
        notifier=StepFunctionsNotifier(StepFunctionsWorkflow(stack.webhook_state_machine_arn, client=sfn)),
        resolver=SystemResolver(),
        clock=SystemClock(),
        config=settings.generation(ImageSettings.from_env(env), WebhookSettings.from_env(env)),
    )
    return started.master_job_id


def create_job_only(stack: Any, story_id: str) -> str:
    """Record a job as the start function would, without starting its execution."""
    return start_job(stack, story_id, workflow=FakeWorkflow())


def start_raw_execution(stack: Any, name: str, payload: dict[str, Any]) -> None:
    stack.aws.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(payload)
    )


def wait_for(stack: Any, job_id: str, timeout: float = 60.0, *, execution: str | None = None, machine: str = "") -> Run:
    """Wait for the execution `execution` (the job's first run by default) to end."""
    sfn = stack.aws.client("stepfunctions")
    arn = StepFunctionsWorkflow(machine or stack.state_machine_arn).execution_arn(execution or job_id)
    ended = wait_for_execution(stack, job_id, timeout, execution=execution, machine=machine)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    job = FirestoreJobStore(lambda: stack.db).get_job(job_id)
    assert job is not None
    return Run(job_id=job_id, execution=ended, history=history, job=job)


def wait_for_execution(
    stack: Any, job_id: str, timeout: float = 60.0, *, execution: str | None = None, machine: str = ""
) -> dict[str, Any]:
    """Wait for the execution to end, asking Step Functions only (no Firestore read of our own)."""
    sfn = stack.aws.client("stepfunctions")
    arn = StepFunctionsWorkflow(machine or stack.state_machine_arn).execution_arn(execution or job_id)
    deadline = time.monotonic() + timeout
    while (described := _describe(sfn, arn))["status"] in {"RUNNING", "NOT_STARTED_YET"}:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{arn} still {described['status']} after {timeout}s")
        time.sleep(0.05)
    return described


def _describe(sfn: Any, arn: str) -> dict[str, Any]:
    try:
        return dict(sfn.describe_execution(executionArn=arn))
    except sfn.exceptions.ExecutionDoesNotExist:
        return {"status": "NOT_STARTED_YET"}


def run_job(stack: Any, story_id: str, *, consistency: bool = True, timeout: float = 60.0) -> Run:
    return wait_for(stack, start_job(stack, story_id, consistency=consistency), timeout)


def master_jobs_of(stack: Any, story: str) -> list[dict[str, Any]]:
    """The master job documents of a story, straight from Firestore."""
    query = stack.db.collection("imageJobs").where(filter=FieldFilter("storyId", "==", story))
    return [d.to_dict() for d in query.stream() if d.to_dict()["type"] == "auto-generation-sequence"]
