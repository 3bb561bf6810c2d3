/** A job's progress for the people waiting on it: an overall bar, the counts, one tile per slide
 * with its state and thumbnail, Retry when slides have no image, Cancel while it runs.
 *
 * Unstyled: class names (`si-…`), `data-status` on the job and each slide and `data-action` on
 * the buttons to theme it; only the bar's width is set inline. */

import type { ReactNode } from "react";

import type { StoryImagesError } from "../errors.js";
import { canCancel, canRetry } from "../jobs.js";
import type { JobStatus, JobStatusData, SlideJob, SlideStatus } from "../types.js";
import { type MasterJobStatusOptions, useCancelGeneration, useMasterJobStatus, useRetryGeneration } from "./hooks.js";

export interface GenerationProgressProps extends Pick<MasterJobStatusOptions, "pollIntervalMs"> {
  masterJobId: string;
  className?: string;
}

const JOB_STATUS_TEXT: Record<JobStatus, string> = {
  pending: "Waiting to start",
  generating: "Generating images",
  completed: "All images are ready",
  completed_with_errors: "Finished, but some images failed",
  failed: "Generation failed",
  cancelled: "Cancelled",
};

const SLIDE_STATUS_TEXT: Record<SlideStatus, string> = {
  pending: "Waiting",
  queued: "Queued",
  generating: "Generating",
  completed: "Done",
  failed: "Failed",
  skipped: "Skipped",
};

export function GenerationProgress({ masterJobId, pollIntervalMs, className }: GenerationProgressProps) {
  const status = useMasterJobStatus(masterJobId, pollIntervalMs === undefined ? {} : { pollIntervalMs });
  const cancel = useCancelGeneration();
  const retry = useRetryGeneration();
  const classes = ["si-generation", className].filter(Boolean).join(" ");

  if (status.data === undefined) {
    return (
      <section className={classes} aria-label="Image generation" aria-busy={status.error === null}>
        {status.error ? <Problem error={status.error} /> : <p role="status">Loading the job…</p>}
      </section>
    );
  }
  const job = status.data;
  const { summary, masterJob } = job;
  const running = canCancel(job);
  return (
    <section className={classes} aria-label="Image generation" aria-busy={running} data-status={masterJob.status}>
      <p className="si-status" role="status" aria-live="polite">
        {JOB_STATUS_TEXT[masterJob.status]}: {summary.completed} of {summary.totalSlides} images
        {masterJob.run > 0 ? ` (retry ${masterJob.run})` : ""}
      </p>
      <div
        className="si-bar"
        role="progressbar"
        aria-label="Overall progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={summary.overallProgress}
        aria-valuetext={`${summary.overallProgress}%`}
      >
        <div className="si-bar-fill" style={{ width: `${summary.overallProgress}%` }} />
      </div>
      <Counts job={job} />
      <ol className="si-slides">
        {job.slideJobs.map((slide) => (
          <SlideTile key={slide.slideNumber} slide={slide} />
        ))}
      </ol>
      {canRetry(job) || running ? (
        <div className="si-actions">
          {canRetry(job) ? (
            <button
              type="button"
              data-action="retry"
              onClick={() => retry.mutate(masterJobId)}
              disabled={retry.isPending}
            >
              Retry failed slides
            </button>
          ) : null}
          {running ? (
            <button
              type="button"
              data-action="cancel"
              onClick={() => cancel.mutate(masterJobId)}
              disabled={cancel.isPending}
            >
              Cancel
            </button>
          ) : null}
        </div>
      ) : null}
      {[status.error, cancel.error, retry.error].map((error, index) =>
        error ? <Problem key={index} error={error} /> : null,
      )}
    </section>
  );
}

function Counts({ job }: { job: JobStatusData }) {
  const { summary } = job;
  const counts: [string, string, number][] = [
    ["completed", "Completed", summary.completed],
    ["errors", "Errors", summary.errors],
    ["queued", "Queued", summary.queued],
    ["skipped", "Skipped", summary.skipped],
    ["total", "Slides", summary.totalSlides],
  ];
  return (
    <dl className="si-counts">
      {counts.map(([name, label, value]) => (
        <div key={name} className={`si-count si-count-${name}`}>
          <dt>{label}</dt>
          <dd data-count={name} data-value={value}>
            {value}
          </dd>
        </div>
      ))}
    </dl>
  );
}

function SlideTile({ slide }: { slide: SlideJob }) {
  const picture: ReactNode = slide.result ? (
    // The URL stays the same across polls, so the browser's cache serves it after the first.
    <img className="si-thumbnail" src={slide.result.imageUrl} alt={`slide ${slide.slideNumber}`} loading="lazy" />
  ) : (
    <div className="si-thumbnail si-placeholder" aria-hidden="true" />
  );
  return (
    <li className="si-slide" data-slide={slide.slideNumber} data-status={slide.status}>
      {picture}
      <span className="si-slide-number">Slide {slide.slideNumber}</span>{" "}
      <span className="si-slide-status">{SLIDE_STATUS_TEXT[slide.status]}</span>
      {slide.error ? (
        <span className="si-slide-error" title={slide.error.message}>
          {" "}
          {slide.error.code}
        </span>
      ) : null}
    </li>
  );
}

function Problem({ error }: { error: StoryImagesError }) {
  return (
    <p className="si-problem" role="alert" data-code={error.code}>
      {error.code}: {error.message}
    </p>
  );
}
