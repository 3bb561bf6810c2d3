export {
  createStoryImagesClient,
  newIdempotencyKey,
  type RequestOptions,
  type StartOptions,
  type StoryImagesClient,
  type StoryImagesClientOptions,
} from "./client.js";
export { NETWORK_ERROR, StoryImagesError, UNEXPECTED_RESPONSE, isStoryImagesError } from "./errors.js";
export { TERMINAL_JOB_STATUSES, canCancel, canRetry, isTerminal } from "./jobs.js";
export type {
  ApiErrorBody,
  JobStatus,
  JobStatusData,
  MasterJob,
  SlideJob,
  SlideResult,
  SlideStatus,
  StartData,
  StartRequest,
  Summary,
} from "./types.js";
export type { components, paths } from "./schema.js";
