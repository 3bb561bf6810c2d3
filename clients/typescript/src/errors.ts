/** Every failure of the client is one StoryImagesError: the API's own `{code, message, details}`
 * when it answered one, a code of ours when it did not (no answer, or an answer that is not the
 * API's error shape, such as a proxy's HTML page). */

/** Codes the client gives failures the API did not name. */
export const NETWORK_ERROR = "NETWORK_ERROR";
export const UNEXPECTED_RESPONSE = "UNEXPECTED_RESPONSE";

export class StoryImagesError extends Error {
  override readonly name = "StoryImagesError";
  /** The HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** The API's stable error code (`JOB_NOT_FOUND`, `STORY_BUSY`, ...) or one of the client's. */
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Worth asking again later: no answer, throttling, or the service (or its store) unavailable.
   * A 4xx other than 408 and 429 says the request itself will not succeed as it is. */
  get transient(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export function isStoryImagesError(value: unknown): value is StoryImagesError {
  return value instanceof StoryImagesError;
}

/** The error an answer carries: `{"success": false, "error": {code, message, details?}}`. */
export function errorFromAnswer(status: number, body: unknown): StoryImagesError {
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof error === "object" && error !== null) {
    const { code, message, details } = error as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof code === "string" && typeof message === "string") {
      return new StoryImagesError(status, code, message, details);
    }
  }
  return new StoryImagesError(status, UNEXPECTED_RESPONSE, `the API answered ${status} without an error body`);
}
