"""Start jobs through the real adapters and wait for their Step Functions executions."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore, FirestoreStories
from storyimages.adapters.stepfunctions_workflow import StepFunctionsWorkflow
from storyimages.domain.jobs import MasterJob
from storyimages.domain.ports import Workflow
from storyimages.domain.start_generation import StartCommand, start_generation
from storyimages.settings import FirestoreSettings, ImageSettings, StartSettings
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


def start_job(stack: Any, story_id: str, *, consistency: bool = True, workflow: Workflow | None = None) -> str:
    """Start a job as the start function does, with its configuration from the environment."""
    firestore = FirestoreSettings.from_env()
    settings = StartSettings.from_env()
    started = start_generation(
        StartCommand(story_id, use_character_consistency=consistency),
        stories=FirestoreStories.from_settings(firestore),
        jobs=FirestoreJobStore.from_settings(firestore),
        workflow=workflow or StepFunctionsWorkflow(stack.state_machine_arn, client=stack.aws.client("stepfunctions")),
        clock=SystemClock(),
        config=settings.generation(ImageSettings.from_env()),
    )
    return started.master_job_id


def create_job_only(stack: Any, story_id: str) -> str:
    """Record a job as the start function would, without starting its execution."""
    return start_job(stack, story_id, workflow=FakeWorkflow())


def start_raw_execution(stack: Any, name: str, payload: dict[str, Any]) -> None:
    stack.aws.client("stepfunctions").start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(payload)
    )


def wait_for(stack: Any, job_id: str, timeout: float = 60.0) -> Run:
    sfn = stack.aws.client("stepfunctions")
    arn = StepFunctionsWorkflow(stack.state_machine_arn).execution_arn(job_id)
    deadline = time.monotonic() + timeout
    while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{job_id} still running after {timeout}s")
        time.sleep(0.05)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    job = FirestoreJobStore(lambda: stack.db).get_job(job_id)
    assert job is not None
    return Run(job_id=job_id, execution=execution, history=history, job=job)


def run_job(stack: Any, story_id: str, *, consistency: bool = True, timeout: float = 60.0) -> Run:
    return wait_for(stack, start_job(stack, story_id, consistency=consistency), timeout)
