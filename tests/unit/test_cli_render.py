"""How a job reads: plain lines per change (what logs and pipes get), the status table, the live bars."""

from __future__ import annotations

import io

from rich.console import Console

from storyimages_cli.render import LiveProgress, PlainProgress, changed_lines, job_line, print_job_table
from tests.cli_fakes import JOB_ID, job, slide


def plain_lines(*answers: dict[str, object]) -> list[list[str]]:
    """The lines each answer adds, in order."""
    stream = io.StringIO()
    progress = PlainProgress(stream)
    added = []
    for answer in answers:
        before = len(stream.getvalue().splitlines())
        progress.update(answer)
        added.append(stream.getvalue().splitlines()[before:])
    return added


def test_given_a_sequence_of_status_answers_when_shown_plainly_then_one_line_per_change() -> None:
    answers = [
        job("generating", [slide(1, "generating"), slide(2), slide(3)]),
        job("generating", [slide(1, "completed"), slide(2, "queued"), slide(3)]),
        job("generating", [slide(1, "completed"), slide(2, "generating"), slide(3, "queued")]),
        job("generating", [slide(1, "completed"), slide(2, "generating"), slide(3, "queued")]),
        job(
            "completed_with_errors",
            [slide(1, "completed"), slide(2, "completed"), slide(3, "failed", "IMAGE_REJECTED")],
        ),
    ]

    assert plain_lines(*answers) == [
        [f"{JOB_ID}: generating (run 0): 0 completed, 0 failed, 0 skipped, 3 in progress of 3", "slide 1: generating"],
        ["slide 1: completed", "slide 2: queued"],
        ["slide 2: generating", "slide 3: queued"],
        [],
        [
            "slide 2: completed",
            "slide 3: failed IMAGE_REJECTED",
            f"{JOB_ID}: completed_with_errors (run 0): 2 completed, 1 failed, 0 skipped of 3",
        ],
    ]


def test_given_a_job_already_ended_when_shown_plainly_then_its_slides_come_before_its_ending() -> None:
    cancelled = job("cancelled", [slide(1, "completed"), slide(2, "skipped", "CANCELLED")])

    assert plain_lines(cancelled) == [
        [
            "slide 1: completed",
            "slide 2: skipped CANCELLED",
            f"{JOB_ID}: cancelled (run 0): 1 completed, 0 failed, 1 skipped of 2",
        ]
    ]


def test_given_a_retried_job_when_its_run_changes_then_the_job_line_says_the_new_run() -> None:
    ended = job("completed_with_errors", [slide(1, "completed"), slide(2, "failed", "RATE_LIMITED")])
    retried = job("generating", [slide(1, "completed"), slide(2, "generating")], run=1)

    assert changed_lines(ended, retried) == [
        f"{JOB_ID}: generating (run 1): 1 completed, 0 failed, 0 skipped, 1 in progress of 2",
        "slide 2: generating",
    ]


def test_given_a_slide_whose_error_changes_when_compared_then_that_is_a_change() -> None:
    first = job("generating", [slide(1, "failed", "RATE_LIMITED"), slide(2, "generating")])
    second = job("generating", [slide(1, "failed", "IMAGE_SERVICE_UNAVAILABLE"), slide(2, "generating")])

    assert changed_lines(first, second) == ["slide 1: failed IMAGE_SERVICE_UNAVAILABLE"]


def test_given_an_ended_job_when_summarised_then_one_line_with_status_run_and_counts() -> None:
    data = job("cancelled", [slide(1, "completed"), slide(2, "failed", "IMAGE_REJECTED"), slide(3, "skipped")], run=2)

    assert job_line(data) == f"{JOB_ID}: cancelled (run 2): 1 completed, 1 failed, 1 skipped of 3"


def test_given_a_job_when_tabled_then_each_slide_shows_number_status_error_and_whether_it_has_an_image() -> None:
    data = job("generating", [slide(1, "completed"), slide(2, "failed", "IMAGE_REJECTED"), slide(3, "queued")])
    stream = io.StringIO()

    print_job_table(Console(file=stream, width=100), data)

    text = stream.getvalue()
    rows = [
        [cell.strip() for cell in line.strip("┃│").replace("┃", "│").split("│")]
        for line in text.splitlines()
        if line[0] in "┃│"
    ]
    assert rows == [
        ["slide", "status", "error", "image"],
        ["1", "completed", "", "yes"],
        ["2", "failed", "IMAGE_REJECTED", "-"],
        ["3", "queued", "", "-"],
    ]
    assert f"{JOB_ID} story fox" in text
    assert "status generating, run 0, 67% (1 completed · 1 failed · 1 queued)" in text
    # The URL is printed whole, on a line of its own, so that it can be copied.
    assert f"slide 1: {data['slideJobs'][0]['result']['imageUrl']}\n" in text


def test_given_a_terminal_when_shown_live_then_a_bar_per_slide_and_one_for_the_job_with_their_statuses() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=80, color_system=None)

    with LiveProgress(console) as progress:
        progress.update(job("generating", [slide(1, "generating"), slide(2, "queued")]))
        progress.update(job("completed_with_errors", [slide(1, "completed"), slide(2, "failed", "IMAGE_REJECTED")]))

    text = stream.getvalue()
    assert f"{JOB_ID} story fox" in text
    final = text.rsplit("job ", 1)[1]  # the last frame drawn
    assert "completed_with_errors (1 completed · 1 failed)" in final
    assert "slide 1" in final and "100% completed" in final
    assert "slide 2" in final and "100% failed IMAGE_REJECTED" in final
