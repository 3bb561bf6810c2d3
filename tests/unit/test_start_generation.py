from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import pytest

from storyimages.domain.errors import (
    IdempotencyKeyReused,
    InvalidOption,
    InvalidRequest,
    InvalidStory,
    InvalidWebhookUrl,
    StoreUnavailable,
    StoryNotFound,
    WorkflowStartFailed,
)
from storyimages.domain.identity import Caller
from storyimages.domain.jobs import JobStatus, SlideStatus
from storyimages.domain.start_generation import (
    GenerationConfig,
    StartCommand,
    StartedJob,
    StartOptions,
    start_generation,
)
from storyimages.domain.story_lock import START_GRACE
from tests.fakes import (
    FakeImageStorage,
    FakeJobStore,
    FakeNotifier,
    FakeResolver,
    FakeStories,
    FakeWorkflow,
    FixedClock,
)
from tests.stories import story_document


@dataclass
class Starter:
    """Starts jobs for stories owned by user-1 through the real use case, with fake ports."""

    config: GenerationConfig
    stories: FakeStories = field(default_factory=lambda: FakeStories({"fox": story_document(4)}))
    jobs: FakeJobStore = field(default_factory=FakeJobStore)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    storage: FakeImageStorage = field(default_factory=FakeImageStorage)
    clock: FixedClock = field(default_factory=FixedClock)

    def __call__(self, command: StartCommand | str = "fox", uid: str = "user-1") -> StartedJob:
        return start_generation(
            StartCommand(command) if isinstance(command, str) else command,
            Caller(uid),
            stories=self.stories,
            jobs=self.jobs,
            workflow=self.workflow,
            storage=self.storage,
            notifier=self.notifier,
            resolver=FakeResolver(),
            clock=self.clock,
            config=self.config,
        )


@pytest.fixture
def starter(config: GenerationConfig) -> Starter:
    return Starter(config)


def test_given_a_story_when_started_then_one_master_and_one_pending_job_per_slide_are_recorded(starter) -> None:
    starter.stories.stories["fox"] = story_document(5)

    started = starter()

    job = starter.jobs.jobs[started.master_job_id]
    assert started.master_job_id == "auto-gen-fox-1795510800000"
    assert started.created
    assert (job.status, job.owner_id, job.lock_seq, job.run) == (JobStatus.PENDING, "user-1", 1, 0)
    assert [s.status for s in job.slides.values()] == [SlideStatus.PENDING] * 5
    assert sorted(starter.jobs.slide_jobs) == [f"{started.master_job_id}-slide-{n}" for n in range(1, 6)]
    assert "Scene: Juniper in scene 3" in starter.jobs.slide_jobs[f"{started.master_job_id}-slide-3"].prompt
    assert starter.jobs.commits == [("create_job", started.master_job_id)]


def test_given_a_story_when_started_then_the_execution_is_named_after_the_job_and_carries_ids_only(starter) -> None:
    started = starter()

    assert starter.workflow.started == {
        started.master_job_id: {
            "masterJobId": started.master_job_id,
            "run": 0,
            "firstSlide": 1,
            "remainingSlides": [2, 3, 4],
            "delaySeconds": 2,
            "maxConcurrency": 1,
        }
    }


@pytest.mark.parametrize(
    ("slides", "delay", "concurrency", "seconds", "text"),
    [
        (5, 2, 1, 5 * 60 + 4 * 2, "6 minutes"),
        (1, 2, 1, 60, "1 minute"),
        (4, 0, 2, 2 * 60, "2 minutes"),
    ],
)
def test_given_delay_and_image_estimate_when_started_then_the_estimate_follows_them(
    config, slides: int, delay: int, concurrency: int, seconds: int, text: str
) -> None:
    starter = Starter(replace(config, delay_seconds=delay, max_concurrency=concurrency))
    starter.stories.stories["fox"] = story_document(slides)

    started = starter()

    assert (started.estimated_seconds, started.estimated_time, started.total_slides) == (seconds, text, slides)


def test_given_a_quick_story_when_estimated_then_less_than_a_minute(config) -> None:
    starter = Starter(replace(config, seconds_per_image=20))
    starter.stories.stories["fox"] = story_document(1)

    assert starter().estimated_time == "less than a minute"


def test_given_no_such_story_when_started_then_story_not_found_and_nothing_recorded(starter) -> None:
    with pytest.raises(StoryNotFound):
        starter("missing")

    assert starter.jobs.jobs == {}


def test_given_someone_elses_story_when_started_then_it_reads_as_missing(starter) -> None:
    with pytest.raises(StoryNotFound) as caught:
        starter("fox", uid="intruder")

    assert caught.value.message == "story 'fox' does not exist"
    assert starter.jobs.jobs == {}


def test_given_a_malformed_story_when_started_then_invalid_story_and_nothing_recorded(starter) -> None:
    starter.stories.stories["bad"] = {"ownerId": "user-1", "slides": []}

    with pytest.raises(InvalidStory):
        starter("bad")

    assert starter.jobs.jobs == {}


def test_given_a_slide_text_stored_as_bytes_when_started_then_invalid_story_and_nothing_recorded(starter) -> None:
    # Given a story whose slide text Firestore holds as bytes, not as a string
    starter.stories.stories["blob"] = {"ownerId": "user-1", "slides": [{"text": "fine"}, {"text": b"A fox naps."}]}

    # When it is started
    with pytest.raises(InvalidStory) as caught:
        starter("blob")

    # Then it is refused, naming the slide's field, and nothing is recorded or started
    assert [problem["field"] for problem in caught.value.details] == ["slides.1.text"]
    assert (starter.jobs.jobs, starter.jobs.commits, starter.workflow.started) == ({}, [], {})


def test_given_step_functions_down_when_started_then_the_job_is_failed_and_the_story_free(starter) -> None:
    starter.workflow.unavailable = True

    with pytest.raises(WorkflowStartFailed):
        starter()

    (job,) = starter.jobs.jobs.values()
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "WORKFLOW_START_FAILED"
    assert {s.status for s in job.visible_slides().values()} == {SlideStatus.SKIPPED}
    assert starter.jobs.current_lock("fox").released


def test_given_concurrency_above_one_when_started_then_the_message_says_so(config) -> None:
    assert Starter(replace(config, max_concurrency=3))().message.endswith("up to 3 at a time.")


# Options


def test_given_options_within_bounds_when_started_then_the_job_uses_them(starter) -> None:
    options = StartOptions(delay_seconds=5, size="1536x1024", quality="high", webhook_url="https://hooks.example.com/x")

    started = starter(StartCommand("fox", options=options))

    job = starter.jobs.jobs[started.master_job_id]
    assert (job.delay_seconds, job.image.size, job.image.quality) == (5, "1536x1024", "high")
    assert job.webhook_url == "https://hooks.example.com/x"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (StartOptions(delay_seconds=61), "delaySeconds"),
        (StartOptions(delay_seconds=-1), "delaySeconds"),
        (StartOptions(size="9999x9999"), "size"),
        (StartOptions(quality="ultra"), "quality"),
    ],
)
def test_given_an_option_out_of_bounds_when_started_then_invalid_option_names_it(
    starter, options: StartOptions, field: str
) -> None:
    with pytest.raises(InvalidOption) as caught:
        starter(StartCommand("fox", options=options))

    assert caught.value.details["field"] == field
    assert starter.jobs.jobs == {}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/x",
        "https://intranet.example.com/x",  # a name that resolves to a private address
        "https://split.example.com/x",  # one public and one private answer
        "https://[::1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://100.64.0.1/x",  # carrier-grade NAT
        "https://0.0.0.0/x",
        "https://nowhere.invalid/x",  # does not resolve
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https:///no-host",
    ],
)
def test_given_a_webhook_url_that_is_not_public_https_when_started_then_it_is_refused(starter, url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        starter(StartCommand("fox", options=StartOptions(webhook_url=url)))

    assert starter.jobs.jobs == {}


def test_given_loopback_explicitly_allowed_when_started_then_a_local_receiver_is_accepted(config) -> None:
    from storyimages.domain.webhooks import WebhookPolicy

    starter = Starter(replace(config, webhooks=WebhookPolicy(allow_loopback=True)))

    started = starter(StartCommand("fox", options=StartOptions(webhook_url="http://127.0.0.1:8080/hook")))

    assert starter.jobs.jobs[started.master_job_id].webhook_url == "http://127.0.0.1:8080/hook"
    with pytest.raises(InvalidWebhookUrl):  # still never a private network
        starter(StartCommand("fox", options=StartOptions(webhook_url="https://10.0.0.1/hook")))


# One job per story


def test_given_a_running_job_when_the_story_is_started_again_then_that_job_is_returned(starter) -> None:
    first = starter()

    second = starter()

    assert second.master_job_id == first.master_job_id
    assert second.already_running and not second.created
    assert len(starter.jobs.jobs) == 1
    assert list(starter.workflow.started) == [first.master_job_id]


def test_given_a_finished_job_when_the_story_is_started_again_then_a_new_job_claims_the_next_seq(starter) -> None:
    first = starter()
    job = starter.jobs.jobs[first.master_job_id]
    starter.jobs.end(job, JobStatus.COMPLETED, starter.clock.now())
    starter.clock.advance(seconds=1)

    second = starter()

    assert second.created and second.master_job_id != first.master_job_id
    assert starter.jobs.jobs[second.master_job_id].lock_seq == 2


def test_given_a_job_whose_execution_was_stopped_from_outside_when_started_then_it_is_failed_and_replaced(
    starter,
) -> None:
    first = starter()
    starter.workflow.ended.add(first.master_job_id)
    starter.clock.advance(seconds=1)

    second = starter()

    assert second.created
    stale = starter.jobs.jobs[first.master_job_id]
    assert stale.status is JobStatus.FAILED
    assert stale.error is not None
    assert stale.error.code == "WORKFLOW_LOST"


def test_given_a_start_that_crashed_before_its_execution_when_started_again_then_the_grace_decides(starter) -> None:
    first = starter()
    del starter.workflow.started[first.master_job_id]  # as if the start died right after its commit

    assert starter().already_running  # within the grace period its start may still be under way

    starter.clock.advance(seconds=START_GRACE.total_seconds() + 1)
    later = starter()

    assert later.created
    assert starter.jobs.jobs[first.master_job_id].status is JobStatus.FAILED


def test_given_a_stale_job_with_a_webhook_when_replaced_then_its_failure_is_notified(starter) -> None:
    first = starter(StartCommand("fox", options=StartOptions(webhook_url="https://hooks.example.com/x")))
    starter.workflow.ended.add(first.master_job_id)

    starter()

    assert starter.notifier.notified == [(first.master_job_id, 0, JobStatus.FAILED)]


def test_given_a_concurrent_start_that_won_when_this_one_loses_then_it_answers_with_the_winner(starter) -> None:
    # Given another start claimed the story between this start's lock read and its commit
    original = starter.jobs.current_lock
    winner: list[StartedJob] = []

    def claim_first(story_id: str):  # type: ignore[no-untyped-def]
        holder = original(story_id)
        if not winner:
            starter.jobs.current_lock = original  # type: ignore[method-assign]
            winner.append(Starter(starter.config, starter.stories, starter.jobs, starter.workflow)())
        return holder

    starter.jobs.current_lock = claim_first  # type: ignore[method-assign]

    started = starter()

    assert started.already_running
    assert started.master_job_id == winner[0].master_job_id
    assert len(starter.jobs.jobs) == 1


# Idempotency-Key


def test_given_an_idempotency_key_when_the_request_is_repeated_then_the_first_job_is_replayed(starter) -> None:
    command = StartCommand("fox", idempotency_key="order-42")
    first = starter(command)
    starter.jobs.end(starter.jobs.jobs[first.master_job_id], JobStatus.COMPLETED, starter.clock.now())

    again = starter(command)

    assert again.master_job_id == first.master_job_id
    assert again.replayed and not again.already_running
    assert len(starter.jobs.jobs) == 1


def test_given_an_idempotency_key_when_reused_for_another_request_then_it_is_refused(starter) -> None:
    starter(StartCommand("fox", idempotency_key="order-42"))

    with pytest.raises(IdempotencyKeyReused):
        starter(StartCommand("fox", use_character_consistency=False, idempotency_key="order-42"))


def test_given_the_same_key_from_another_user_when_started_then_it_is_their_own_key(starter) -> None:
    starter.stories.stories["owl"] = story_document(2, owner="user-2")
    starter(StartCommand("fox", idempotency_key="k"))

    theirs = starter(StartCommand("owl", idempotency_key="k"), uid="user-2")

    assert theirs.created


@pytest.mark.parametrize("key", ["", "with space", "é", "x" * 256])
def test_given_a_malformed_idempotency_key_when_started_then_it_is_refused(starter, key: str) -> None:
    with pytest.raises(InvalidRequest):
        starter(StartCommand("fox", idempotency_key=key))


def test_given_a_key_sent_while_the_story_runs_when_sent_again_after_the_job_ended_then_the_same_job_comes_back(
    starter,
) -> None:
    running = starter()
    keyed = starter(StartCommand("fox", idempotency_key="k-late"))
    starter.jobs.end(starter.jobs.jobs[running.master_job_id], JobStatus.COMPLETED, starter.clock.now())

    again = starter(StartCommand("fox", idempotency_key="k-late"))

    assert keyed.already_running
    assert (again.master_job_id, again.replayed) == (running.master_job_id, True)
    assert len(starter.jobs.jobs) == 1


def test_given_a_key_older_than_a_day_when_sent_again_then_it_starts_a_new_job(starter) -> None:
    first = starter(StartCommand("fox", idempotency_key="k-old"))
    starter.jobs.end(starter.jobs.jobs[first.master_job_id], JobStatus.COMPLETED, starter.clock.now())
    starter.clock.advance(hours=25)

    again = starter(StartCommand("fox", idempotency_key="k-old"))

    assert again.created
    assert again.master_job_id != first.master_job_id
    assert starter.jobs.idempotency[next(iter(starter.jobs.idempotency))].job_id == again.master_job_id


@pytest.mark.parametrize(
    "spelled_out",
    [
        StartCommand("fox", options=StartOptions(delay_seconds=2)),
        StartCommand("fox", options=StartOptions(size="1024x1024")),
        StartCommand("fox", options=StartOptions(quality="medium")),
        StartCommand("fox", options=StartOptions(delay_seconds=2, size="1024x1024", quality="medium")),
        StartCommand("fox", use_character_consistency=True, options=StartOptions(webhook_url=None)),
    ],
)
def test_given_a_key_when_the_request_is_repeated_with_the_defaults_spelled_out_then_the_first_job_is_replayed(
    starter, spelled_out: StartCommand
) -> None:
    # Given a keyed request that left every option to the deployment's defaults
    first = starter(StartCommand("fox", idempotency_key="order-43"))

    # When the same request comes again with the same key, naming the defaults it got
    again = starter(replace(spelled_out, idempotency_key="order-43"))

    # Then it is the same request: the first job comes back and no other is made
    assert (again.master_job_id, again.replayed) == (first.master_job_id, True)
    assert list(starter.jobs.jobs) == [first.master_job_id]


# A value other than the default (delay 2, 1024x1024, medium, no webhook) for every option.
NOT_THE_DEFAULT = {
    "delay_seconds": 0,
    "size": "1536x1024",
    "quality": "high",
    "webhook_url": "https://hooks.example.com/x",
}


def test_given_the_start_options_when_listed_then_each_has_a_case_in_the_idempotency_tests() -> None:
    # A new option must be part of what makes two keyed requests the same request.
    assert {option.name for option in fields(StartOptions)} == set(NOT_THE_DEFAULT)
    assert {f.name for f in fields(StartCommand)} == {
        "story_id",
        "use_character_consistency",
        "options",
        "idempotency_key",
    }


@pytest.mark.parametrize(
    "different",
    [
        *(StartCommand("fox", options=StartOptions(**{name: value})) for name, value in NOT_THE_DEFAULT.items()),
        StartCommand("fox", use_character_consistency=False),
    ],
)
def test_given_a_key_when_a_request_differing_from_the_defaults_reuses_it_then_it_is_refused(
    starter, different: StartCommand
) -> None:
    # Given a keyed request that left every option to the deployment's defaults
    first = starter(StartCommand("fox", idempotency_key="order-44"))

    # When a request asking for something other than a default reuses the key
    with pytest.raises(IdempotencyKeyReused):
        starter(replace(different, idempotency_key="order-44"))

    # Then nothing else is made
    assert list(starter.jobs.jobs) == [first.master_job_id]


def test_given_a_key_used_with_explicit_options_when_the_defaults_are_left_out_then_the_first_job_is_replayed(
    starter,
) -> None:
    # Given a keyed request that named every option, each equal to the deployment's default
    options = StartOptions(delay_seconds=2, size="1024x1024", quality="medium")
    first = starter(StartCommand("fox", options=options, idempotency_key="order-45"))

    # When it comes again leaving them out
    again = starter(StartCommand("fox", idempotency_key="order-45"))

    # Then the first job comes back
    assert (again.master_job_id, again.replayed) == (first.master_job_id, True)


class CommitLandsLate(FakeJobStore):
    """A store whose create commit is applied although the caller got no answer in time."""

    def create_job(self, job, slide_jobs, *, idempotency=None) -> None:  # type: ignore[no-untyped-def]
        super().create_job(job, slide_jobs, idempotency=idempotency)
        raise StoreUnavailable("no answer in time")


def test_given_a_create_commit_with_no_answer_when_started_then_503_and_the_run_starts_anyway(config) -> None:
    # Given a store that applies the job's commit but does not answer in time
    starter = Starter(config, jobs=CommitLandsLate())

    # When a story is started, the caller is told the store was unavailable
    with pytest.raises(StoreUnavailable):
        starter()

    # Then the job that landed has its execution: it will run, not read pending forever
    (job,) = starter.jobs.jobs.values()
    assert list(starter.workflow.started) == [job.execution_name]
    assert starter.workflow.started[job.execution_name]["masterJobId"] == job.job_id
