/** The API's shapes, named for the app: every one of them is generated from docs/openapi.json. */

import type { components } from "./schema.js";

type Schemas = components["schemas"];

/** The body of `POST /api/images/generate-all-automatically`: only `storyId` is required. */
export type StartRequest = Schemas["StartRequest"];
/** The start answer's `data`: `masterJobId` names the job to poll. */
export type StartData = Schemas["StartData"];
/** The status answer's `data`: the master job, every slide job and a summary. */
export type JobStatusData = Schemas["JobStatusData"];
export type MasterJob = Schemas["MasterJobBody"];
export type SlideJob = Schemas["SlideJobBody"];
export type Summary = Schemas["SummaryBody"];
export type SlideResult = Schemas["SlideResult"];
export type ApiErrorBody = Schemas["ErrorBody"];

export type JobStatus = MasterJob["status"];
export type SlideStatus = SlideJob["status"];
