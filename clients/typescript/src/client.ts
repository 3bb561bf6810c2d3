/** The storyimages API over fetch, typed from docs/openapi.json through openapi-fetch. */

import createClient, { type Middleware } from "openapi-fetch";

import { NETWORK_ERROR, StoryImagesError, UNEXPECTED_RESPONSE, errorFromAnswer } from "./errors.js";
import type { paths } from "./schema.js";
import type { JobStatusData, StartData, StartRequest } from "./types.js";

export interface StoryImagesClientOptions {
  /** Where the API is: the deployed stage's URL (`https://….execute-api….amazonaws.com/dev/`),
   * or the page's own origin when the API is served beside it. */
  baseUrl: string;
  /** The signed-in user's Firebase ID token, asked for before every request (Firebase's
   * `auth.currentUser?.getIdToken()` caches it and refreshes it before it expires). */
  getIdToken: () => Promise<string | null | undefined> | string | null | undefined;
  /** Another fetch (tests, a server-side runtime); the global one by default. */
  fetch?: (request: Request) => Promise<Response>;
  /** How many times a start whose answer was lost is sent again, with the same Idempotency-Key. */
  startRetries?: number;
  /** The wait before each such retry, in milliseconds, by retry (the last one repeats). */
  startRetryDelaysMs?: readonly number[];
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface StartOptions extends RequestOptions {
  /** One logical start, one key: a start sent again with the same key answers the first one's
   * job instead of starting a second. Made here when not given. */
  idempotencyKey?: string;
}

export interface StoryImagesClient {
  /** Start illustrating a story; resolves to the start answer's `data` (`masterJobId`, ...). */
  startGeneration(request: StartRequest, options?: StartOptions): Promise<StartData>;
  /** The job, every slide and a summary (the status answer's `data`). */
  getMasterJob(masterJobId: string, options?: RequestOptions): Promise<JobStatusData>;
  /** Cancel a running job; resolves to its status, now `cancelled`. */
  cancelJob(masterJobId: string, options?: RequestOptions): Promise<JobStatusData>;
  /** Generate again every slide that has no image (a new run); resolves to its status. */
  retryJob(masterJobId: string, options?: RequestOptions): Promise<JobStatusData>;
}

const DEFAULT_START_RETRIES = 2;
const DEFAULT_START_RETRY_DELAYS_MS = [500, 2_000];

/** A fresh Idempotency-Key: 122 random bits, printable ASCII as the API requires. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

export function createStoryImagesClient(options: StoryImagesClientOptions): StoryImagesClient {
  const fetchImpl = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const api = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ""), fetch: fetchImpl });
  const authorize: Middleware = {
    async onRequest({ request }) {
      const token = await options.getIdToken();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  api.use(authorize);
  const retries = options.startRetries ?? DEFAULT_START_RETRIES;
  const delays = options.startRetryDelaysMs ?? DEFAULT_START_RETRY_DELAYS_MS;

  const jobPath = (masterJobId: string) => ({ params: { path: { masterJobId } } });

  return {
    async startGeneration(request, { idempotencyKey = newIdempotencyKey(), signal } = {}) {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await answer(
            api.POST("/api/images/generate-all-automatically", {
              body: request,
              params: { header: { "idempotency-key": idempotencyKey } },
              ...withSignal(signal),
            }),
          );
        } catch (error) {
          if (attempt >= retries || !startMayBeSentAgain(error) || signal?.aborted) throw error;
          await pause(delays[Math.min(attempt, delays.length - 1)] ?? 0, signal);
        }
      }
    },
    getMasterJob(masterJobId, { signal } = {}) {
      return answer(api.GET("/api/images/master-job/{masterJobId}", { ...jobPath(masterJobId), ...withSignal(signal) }));
    },
    cancelJob(masterJobId, { signal } = {}) {
      return answer(
        api.POST("/api/images/master-job/{masterJobId}/cancel", { ...jobPath(masterJobId), ...withSignal(signal) }),
      );
    },
    retryJob(masterJobId, { signal } = {}) {
      return answer(
        api.POST("/api/images/master-job/{masterJobId}/retry", { ...jobPath(masterJobId), ...withSignal(signal) }),
      );
    },
  };
}

/** A start is sent again only when doing so cannot start twice (the key replays the first) and
 * may succeed: no answer, throttled, or the store unavailable. WORKFLOW_START_FAILED recorded its
 * job as failed, which the key would only replay. */
function startMayBeSentAgain(error: unknown): boolean {
  return error instanceof StoryImagesError && error.transient && error.code !== "WORKFLOW_START_FAILED";
}

function withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

type Answer<T> = Promise<{ data?: { data: T }; error?: unknown; response: Response }>;

async function answer<T>(sent: Answer<T>): Promise<T> {
  let result: Awaited<Answer<T>>;
  try {
    result = await sent;
  } catch (error) {
    if (isAbort(error)) throw error;
    if (error instanceof SyntaxError) {
      throw new StoryImagesError(0, UNEXPECTED_RESPONSE, "the API answered a body that is not JSON", undefined, {
        cause: error,
      });
    }
    throw new StoryImagesError(0, NETWORK_ERROR, "the API could not be reached", undefined, { cause: error });
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined) throw errorFromAnswer(response.status, error);
  if (data === undefined || typeof data !== "object" || data === null || !("data" in data)) {
    throw new StoryImagesError(response.status, UNEXPECTED_RESPONSE, "the API answered without data");
  }
  return data.data;
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

function pause(milliseconds: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
