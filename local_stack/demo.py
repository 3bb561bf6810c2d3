"""`make demo`: illustrate every example story through the local stack's HTTP API, as the app
would, show progress as it happens, and write the images plus a contact sheet to `out/`.

Exits 0 only when every job completed."""

from __future__ import annotations

import html
import json
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

from local_stack.seed import example_stories
from local_stack.stack import LocalConfig, LocalStack

OUT = Path(__file__).resolve().parent.parent / "out"
START = "/api/images/generate-all-automatically"
POLL_SECONDS = 0.25
TIMEOUT_SECONDS = 600


@dataclass
class Tracked:
    story_id: str
    job_id: str
    started_at: float
    body: dict[str, Any] = field(default_factory=dict)
    slide_status: dict[int, str] = field(default_factory=dict)
    finished_at: float | None = None

    @property
    def status(self) -> str:
        return str(self.body.get("masterJob", {}).get("status", "pending"))

    @property
    def finished(self) -> bool:
        return self.status not in {"pending", "generating"}


def main() -> int:
    began = time.perf_counter()
    config = replace(LocalConfig.from_env(), gateway_port=0)  # never collide with a running `make local`
    say(f"starting the local stack (OpenAI: {'real' if config.real_openai_key else 'local Images API server'})")
    with LocalStack(config) as stack:
        ready = time.perf_counter()
        say(f"stack ready in {ready - began:.1f}s at {stack.url}; stories: {', '.join(stack.story_ids)}")
        session = requests.Session()
        # The example stories belong to demo-user; the app would send its Firebase ID token.
        session.headers["Authorization"] = f"Bearer {stack.token('demo-user')}"
        jobs = [start(session, stack.url, story_id) for story_id in stack.story_ids]
        if jobs and stack.config.web_root is not None:
            say(f"watch it in a browser while it runs: {stack.url}/?user=demo-user&job={jobs[0].job_id}")
        watch(session, stack.url, jobs, ready)
        generated = time.perf_counter()
        write_output(jobs, example_stories())
    stopped = time.perf_counter()
    print_summary(jobs, ready, began, generated, stopped)
    return 0 if jobs and all(job.status == "completed" for job in jobs) else 1


def start(session: requests.Session, base: str, story_id: str) -> Tracked:
    response = session.post(f"{base}{START}", json={"storyId": story_id, "useCharacterConsistency": True}, timeout=30)
    body = response.json()
    if response.status_code not in {200, 202}:
        raise SystemExit(f"starting {story_id} failed: {response.status_code} {body}")
    data = body["data"]
    say(f"{story_id}: started {data['masterJobId']} ({data['totalSlides']} slides, estimated {data['estimatedTime']})")
    return Tracked(story_id, data["masterJobId"], time.perf_counter())


def watch(session: requests.Session, base: str, jobs: list[Tracked], since: float) -> None:
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while not all(job.finished for job in jobs):
        if time.perf_counter() > deadline:
            raise SystemExit("gave up waiting for the jobs")
        for job in (j for j in jobs if not j.finished):
            job.body = session.get(f"{base}/api/images/master-job/{job.job_id}", timeout=30).json()["data"]
            report_changes(job, since)
            if job.finished:
                job.finished_at = time.perf_counter()
                summary = job.body["summary"]
                say(
                    f"{job.story_id}: {job.status} ({summary['completed']}/{summary['totalSlides']} images, "
                    f"{summary['errors']} errors) in {job.finished_at - job.started_at:.1f}s",
                    since,
                )
        time.sleep(POLL_SECONDS)


def report_changes(job: Tracked, since: float) -> None:
    for slide in job.body["slideJobs"]:
        number, status = slide["slideNumber"], slide["status"]
        if job.slide_status.get(number) == status:
            continue
        job.slide_status[number] = status
        if status == "pending":
            continue
        summary = job.body["summary"]
        bar = progress_bar(summary["overallProgress"])
        detail = f" ({slide['error']['code']}: {slide['error']['message']})" if slide.get("error") else ""
        say(
            f"{job.story_id:<22} {bar} {summary['overallProgress']:>3}%  slide {number} {status}{detail}",
            since,
        )


def progress_bar(percent: int, width: int = 20) -> str:
    filled = round(width * percent / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def write_output(jobs: list[Tracked], stories: dict[str, dict[str, Any]]) -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    for job in jobs:
        folder = OUT / job.story_id
        folder.mkdir()
        for slide in job.body["slideJobs"]:
            if slide.get("result"):
                image = requests.get(slide["result"]["imageUrl"], timeout=60)
                image.raise_for_status()
                (folder / f"slide-{slide['slideNumber']}.png").write_bytes(image.content)
    (OUT / "index.html").write_text(contact_sheet(jobs, stories))
    summary = {job.story_id: {"masterJobId": job.job_id, "status": job.status, **job.body["summary"]} for job in jobs}
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))


def contact_sheet(jobs: list[Tracked], stories: dict[str, dict[str, Any]]) -> str:
    sections = []
    for job in jobs:
        story = stories.get(job.story_id, {})
        reference = job.body["masterJob"].get("referenceSlide")
        cells = []
        for slide in job.body["slideJobs"]:
            number = slide["slideNumber"]
            text = story.get("slides", [{}] * number)[number - 1].get("text", "")
            badge = " (reference)" if number == reference else ""
            picture = (
                f'<img src="{html.escape(job.story_id)}/slide-{number}.png" alt="slide {number}">'
                if slide.get("result")
                else f'<div class="missing">{html.escape(slide.get("error", {}).get("code", slide["status"]))}</div>'
            )
            cells.append(
                f"<figure>{picture}<figcaption><b>{number}{badge}</b> {html.escape(text)}</figcaption></figure>"
            )
        title = html.escape(story.get("title", job.story_id))
        sections.append(
            f"<section><h2>{title}</h2><p>{html.escape(job.job_id)}: <b>{html.escape(job.status)}</b></p>"
            f'<div class="grid">{"".join(cells)}</div></section>'
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2rem;background:#faf7f2;color:#222}"
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:1rem}"
        "figure{margin:0;background:#fff;padding:.5rem;border-radius:8px;box-shadow:0 1px 4px #0002}"
        "img{width:100%;border-radius:4px}.missing{aspect-ratio:1;display:grid;place-items:center;background:#eee}"
        "figcaption{font-size:.85rem;margin-top:.4rem}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>storyimages demo</title><style>{style}</style>"
        f"</head><body><h1>storyimages: contact sheet</h1>{''.join(sections)}</body></html>\n"
    )


def print_summary(jobs: list[Tracked], ready: float, began: float, generated: float, stopped: float) -> None:
    say("")
    say(f"{'story':<24}{'status':<24}{'images':>8}{'errors':>8}{'seconds':>9}")
    for job in jobs:
        summary = job.body["summary"]
        seconds = (job.finished_at or generated) - job.started_at
        images = f"{summary['completed']}/{summary['totalSlides']}"
        say(f"{job.story_id:<24}{job.status:<24}{images:>8}{summary['errors']:>8}{seconds:>9.1f}")
    say("")
    say(
        f"timings: stack start {ready - began:.1f}s, generation {generated - ready:.1f}s, "
        f"stop {stopped - generated:.1f}s, total {stopped - began:.1f}s"
    )
    say(f"images and contact sheet: {OUT / 'index.html'}")
    say("the progress page, to generate, cancel and retry by hand: `make local`, then open http://127.0.0.1:3000/")


def say(message: str, since: float | None = None) -> None:
    prefix = f"[{time.perf_counter() - since:6.1f}s] " if since is not None else ""
    print(prefix + message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
