"""The events the state machine sends to its task functions (ids and numbers only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from storyimages.domain.failures import describe_failure
from storyimages.domain.jobs import JobError, JobStatus, Summary
from storyimages.domain.webhooks import JobEnding


class TaskEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    master_job_id: str = Field(alias="masterJobId", min_length=1)


class RunTask(TaskEvent):
    """A task of one run; `run` is absent only from executions started before runs were passed."""

    run: int | None = Field(default=None, ge=0)


class SlideTask(RunTask):
    slide_number: int = Field(alias="slideNumber", ge=1)


class ImageWorkMessage(SlideTask):
    """A message of the image queue: a slide task plus the token of the workflow task waiting on it."""

    task_token: str = Field(alias="taskToken", min_length=1)


class CaughtError(BaseModel):
    """What a Catch puts at its ResultPath."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str | None = None
    Cause: str | None = None

    def describe(self) -> JobError:
        return describe_failure(self.Error, self.Cause)


class SlideFailureTask(SlideTask):
    error: CaughtError = CaughtError()


class JobFailureTask(RunTask):
    error: CaughtError = CaughtError()


class SummaryEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    total_slides: int = Field(alias="totalSlides", ge=0)
    completed: int = Field(ge=0)
    errors: int = Field(ge=0)
    skipped: int = Field(ge=0)


class ExecutionEnded(BaseModel):
    """EventBridge's "Step Functions Execution Status Change" event, the fields used here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    class Detail(BaseModel):
        model_config = ConfigDict(extra="ignore", frozen=True)

        status: str
        input: str
        error: str | None = None

    detail: Detail

    def run_input(self) -> RunTask:
        """The execution's input: which job, which run."""
        return RunTask.model_validate_json(self.detail.input)


class WebhookTask(TaskEvent):
    """What a job's end put in its webhook delivery's input (StepFunctionsNotifier)."""

    run: int = Field(ge=0)
    status: JobStatus
    summary: SummaryEvent
    attempt: int = Field(default=0, ge=0)

    def ending(self) -> JobEnding:
        s = self.summary
        return JobEnding(
            job_id=self.master_job_id,
            run=self.run,
            status=self.status,
            summary=Summary(
                total_slides=s.total_slides, completed=s.completed, errors=s.errors, skipped=s.skipped, in_progress=0
            ),
        )


class WebhookFailureTask(WebhookTask):
    error: CaughtError = CaughtError()
