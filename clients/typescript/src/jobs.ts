/** What a job's status means for someone watching it: one place for the app, the hooks and the
 * progress component. */

import type { JobStatus, JobStatusData } from "./types.js";

/** A job in one of these has ended: nothing about it changes until someone retries it. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>([
  "completed",
  "completed_with_errors",
  "failed",
  "cancelled",
]);

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.has(status);
}

/** A retry would generate something: the job ended and some slide has no image. */
export function canRetry(job: JobStatusData): boolean {
  return isTerminal(job.masterJob.status) && job.summary.completed < job.summary.totalSlides;
}

/** Cancelling means something: the job is still running. */
export function canCancel(job: JobStatusData): boolean {
  return !isTerminal(job.masterJob.status);
}
