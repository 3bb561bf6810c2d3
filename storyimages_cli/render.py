"""How a job reads on screen: the status table, one-line summaries, and a watch's progress (live bars on a
terminal, one plain line per change anywhere else, so that logs and tests can read it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from storyimages_cli.outcome import job_has_ended, slide_has_ended

_STYLE_BY_STATUS = {
    "pending": "dim",
    "queued": "yellow",
    "generating": "cyan",
    "completed": "green",
    "completed_with_errors": "yellow",
    "failed": "red",
    "skipped": "magenta",
    "cancelled": "magenta",
}
# A slide the API has not yet moved is pending; saying so for every slide of a new job is noise, not a change.
_UNSEEN_SLIDE = {"status": "pending", "error": None}


def styled(status: str) -> str:
    return f"[{_STYLE_BY_STATUS.get(status, 'bold')}]{escape(status)}[/]"


def job_line(data: Mapping[str, Any]) -> str:
    """`<jobId>: <status> (run n): 2 completed, 1 failed, 0 skipped, 2 in progress of 5`"""
    job, summary = data["masterJob"], data["summary"]
    counts = f"{summary['completed']} completed, {summary['errors']} failed, {summary['skipped']} skipped"
    if summary["inProgress"]:
        counts += f", {summary['inProgress']} in progress"
    return f"{job['jobId']}: {job['status']} (run {job['run']}): {counts} of {summary['totalSlides']}"


def slide_line(slide: Mapping[str, Any]) -> str:
    """`slide 2: failed IMAGE_REJECTED`"""
    line = f"slide {slide['slideNumber']}: {slide['status']}"
    error = slide.get("error")
    return f"{line} {error['code']}" if error else line


def changed_lines(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """What changed from one status answer to the next, one plain line each: the job's line when its status or
    run changed (first while it runs, last once it has ended), and a line per slide whose status or error changed."""
    job = current["masterJob"]
    before = previous["masterJob"] if previous else None
    job_changed = before is None or (before["status"], before["run"]) != (job["status"], job["run"])
    earlier = {slide["slideNumber"]: slide for slide in previous["slideJobs"]} if previous else {}
    slides = [
        slide_line(slide)
        for slide in sorted(current["slideJobs"], key=lambda slide: slide["slideNumber"])
        if _slide_state(slide) != _slide_state(earlier.get(slide["slideNumber"], _UNSEEN_SLIDE))
    ]
    if not job_changed:
        return slides
    return [*slides, job_line(current)] if job_has_ended(job["status"]) else [job_line(current), *slides]


def _slide_state(slide: Mapping[str, Any]) -> tuple[str, str | None]:
    error = slide.get("error")
    return slide["status"], error["code"] if error else None


class PlainProgress:
    """A watch as plain lines, one per change, flushed as they come."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._previous: Mapping[str, Any] | None = None

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, data: Mapping[str, Any]) -> None:
        for line in changed_lines(self._previous, data):
            self._stream.write(line + "\n")
        self._stream.flush()
        self._previous = data

    def note(self, message: str) -> None:
        self._stream.write(message + "\n")
        self._stream.flush()


class LiveProgress:
    """A watch as live bars: the job's (slides done of all) and one per slide, each with its status."""

    def __init__(self, console: Console) -> None:
        # Narrow fixed columns, so that the statuses still fit an 80-column terminal.
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[state]}"),
            console=console,
        )
        self._job_task: TaskID | None = None
        self._slide_tasks: dict[int, TaskID] = {}

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._progress.stop()

    def update(self, data: Mapping[str, Any]) -> None:
        job, summary = data["masterJob"], data["summary"]
        done = summary["completed"] + summary["errors"] + summary["skipped"]
        run = f" run {job['run']}" if job["run"] else ""
        state = f"{styled(job['status'])}{run} ({_counts(data['slideJobs'])})"
        if self._job_task is None:
            self._progress.console.print(f"[bold]{escape(job['jobId'])}[/] story {escape(job['storyId'])}")
            self._job_task = self._progress.add_task("job", total=summary["totalSlides"], state="")
        self._progress.update(self._job_task, total=summary["totalSlides"], completed=done, state=state)
        for slide in sorted(data["slideJobs"], key=lambda slide: slide["slideNumber"]):
            self._update_slide(slide)
        self._progress.refresh()

    def note(self, message: str) -> None:
        self._progress.console.print(escape(message))

    def _update_slide(self, slide: Mapping[str, Any]) -> None:
        number = slide["slideNumber"]
        if number not in self._slide_tasks:
            self._slide_tasks[number] = self._progress.add_task(f"slide {number}", total=100, state="")
        error = slide.get("error")
        state = styled(slide["status"]) + (f" {escape(error['code'])}" if error else "")
        # An ended slide fills its bar whatever its progress says, so the eye reads "done" at a glance.
        completed = 100 if slide_has_ended(slide["status"]) else slide["progress"]
        self._progress.update(self._slide_tasks[number], completed=completed, state=state)


def _counts(slides: Sequence[Mapping[str, Any]]) -> str:
    """`3 completed · 1 failed · 1 generating · 2 queued`: how many slides are in each status, ended ones first."""
    order = ("completed", "failed", "skipped", "generating", "queued", "pending")
    statuses = [slide["status"] for slide in slides]
    known = [f"{statuses.count(status)} {styled(status)}" for status in order if status in statuses]
    unknown = [f"{statuses.count(status)} {styled(status)}" for status in sorted(set(statuses) - set(order))]
    return " · ".join(known + unknown)


def print_job_table(console: Console, data: Mapping[str, Any]) -> None:
    """The job, then a row per slide (number, status, error code, whether it has an image), then the image URLs
    in full: a presigned URL is too long for a table cell and is no use wrapped."""
    job, slides = data["masterJob"], sorted(data["slideJobs"], key=lambda slide: slide["slideNumber"])
    console.print(f"[bold]{escape(job['jobId'])}[/] story {escape(job['storyId'])}")
    console.print(f"status {styled(job['status'])}, run {job['run']}, {job['progress']}% ({_counts(slides)})")
    if job.get("error"):
        console.print(f"error [red]{escape(job['error']['code'])}[/]: {escape(job['error']['message'])}")
    table = Table("slide", "status", "error", "image")
    for slide in slides:
        error = slide.get("error")
        table.add_row(
            str(slide["slideNumber"]),
            styled(slide["status"]),
            escape(error["code"]) if error else "",
            "yes" if slide.get("result") else "-",
        )
    console.print(table)
    for slide in slides:
        if slide.get("result"):
            console.print(f"slide {slide['slideNumber']}: {slide['result']['imageUrl']}", soft_wrap=True, markup=False)
