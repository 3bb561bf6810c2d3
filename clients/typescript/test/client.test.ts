// @vitest-environment node
/** The client over real HTTP against the fake API: what it sends, what it resolves to, and one
 * error class for every failure. */

import { afterEach, beforeEach, describe, expect, test } from "vitest";

import { NETWORK_ERROR, StoryImagesError, UNEXPECTED_RESPONSE, createStoryImagesClient } from "../src/index.js";
import { FakeStoryImagesApi } from "./fakeApi.js";

const START = "/api/images/generate-all-automatically";
let api: FakeStoryImagesApi;
let baseUrl: string;

beforeEach(async () => {
  api = new FakeStoryImagesApi();
  api.addStory("fox", 3);
  baseUrl = await api.listen();
});

afterEach(async () => {
  await api.close();
});

function client(overrides: Partial<Parameters<typeof createStoryImagesClient>[0]> = {}) {
  return createStoryImagesClient({ baseUrl, getIdToken: () => api.token, startRetryDelaysMs: [1], ...overrides });
}

async function caught(promise: Promise<unknown>): Promise<StoryImagesError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StoryImagesError);
    return error as StoryImagesError;
  }
  throw new Error("expected the call to fail");
}

describe("startGeneration", () => {
  test("given a story, when started, then it sends the body with the user's token and resolves to the answer's data", async () => {
    const result = await client().startGeneration({ storyId: "fox", useCharacterConsistency: true });

    expect(result.masterJobId).toMatch(/^auto-gen-fox-\d+$/);
    expect(result.totalSlides).toBe(3);
    const [sent] = api.requestsTo("POST", START);
    expect(sent?.body).toEqual({ storyId: "fox", useCharacterConsistency: true });
    expect(sent?.headers.authorization).toBe(`Bearer ${api.token}`);
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(api.jobs.has(result.masterJobId)).toBe(true);
  });

  test("given the first answer is lost, when started, then it is sent again with the same Idempotency-Key and one job exists", async () => {
    api.failNext("lose-answer");

    const result = await client().startGeneration({ storyId: "fox" });

    const keys = api.requestsTo("POST", START).map((r) => r.headers["idempotency-key"]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBeTruthy();
    expect(keys[1]).toBe(keys[0]);
    expect([...api.jobs.keys()]).toEqual([result.masterJobId]);
    expect(result.idempotentReplay).toBe(true);
  });

  test("given two starts, when sent, then each has a key of its own", async () => {
    const first = await client().startGeneration({ storyId: "fox" });
    const second = await client().startGeneration({ storyId: "fox" });

    const keys = api.requestsTo("POST", START).map((r) => r.headers["idempotency-key"]);
    expect(new Set(keys).size).toBe(2);
    expect(second.masterJobId).not.toBe(first.masterJobId);
  });

  test("given a key from the caller, when started, then that key is sent", async () => {
    await client().startGeneration({ storyId: "fox" }, { idempotencyKey: "app-start-42" });

    expect(api.requestsTo("POST", START)[0]?.headers["idempotency-key"]).toBe("app-start-42");
  });

  test("given the store is unavailable once, when started, then it is sent again and succeeds", async () => {
    api.failNext({ status: 503, body: { success: false, error: { code: "STORE_UNAVAILABLE", message: "try again" } } });

    const result = await client().startGeneration({ storyId: "fox" });

    expect(api.requestsTo("POST", START)).toHaveLength(2);
    expect(api.jobs.has(result.masterJobId)).toBe(true);
  });

  test("given the workflow could not start, when started, then the error surfaces without a second try", async () => {
    api.failNext({
      status: 503,
      body: { success: false, error: { code: "WORKFLOW_START_FAILED", message: "Step Functions could not be reached" } },
    });

    const error = await caught(client().startGeneration({ storyId: "fox" }));

    expect([error.status, error.code]).toEqual([503, "WORKFLOW_START_FAILED"]);
    expect(api.requestsTo("POST", START)).toHaveLength(1);
  });

  test("given an unknown story, when started, then the API's 404 and code surface", async () => {
    const error = await caught(client().startGeneration({ storyId: "nope" }));

    expect([error.status, error.code, error.message]).toEqual([404, "STORY_NOT_FOUND", "story 'nope' does not exist"]);
    expect(error.transient).toBe(false);
  });
});

describe("job reads and actions", () => {
  test("given a running job, when read, then it resolves to the status answer's data", async () => {
    const job = api.job("auto-gen-fox-1", ["completed", "generating", "pending"]);
    api.jobs.set("auto-gen-fox-1", job);

    const data = await client().getMasterJob("auto-gen-fox-1");

    expect(data).toEqual(job);
    expect(data.summary.completed).toBe(1);
  });

  test("given a running job, when cancelled, then it resolves to its status, cancelled, with skipped slides", async () => {
    api.jobs.set("auto-gen-fox-1", api.job("auto-gen-fox-1", ["completed", "generating", "pending"]));

    const data = await client().cancelJob("auto-gen-fox-1");

    expect(data.masterJob.status).toBe("cancelled");
    expect(data.summary.skipped).toBe(2);
  });

  test("given a job with a failed slide, when retried, then it resolves to the new run", async () => {
    api.jobs.set("auto-gen-fox-1", api.job("auto-gen-fox-1", ["completed", "failed", "completed"]));

    const data = await client().retryJob("auto-gen-fox-1");

    expect([data.masterJob.status, data.masterJob.run]).toEqual(["generating", 1]);
  });

  test("given a finished job, when cancelled, then 409 JOB_ALREADY_FINISHED surfaces with its details", async () => {
    api.jobs.set("auto-gen-fox-1", api.job("auto-gen-fox-1", ["completed", "completed", "completed"]));

    const error = await caught(client().cancelJob("auto-gen-fox-1"));

    expect([error.status, error.code]).toEqual([409, "JOB_ALREADY_FINISHED"]);
  });

  test("given an unknown job, when read, then 404 JOB_NOT_FOUND surfaces", async () => {
    const error = await caught(client().getMasterJob("auto-gen-nope-1"));

    expect([error.status, error.code]).toEqual([404, "JOB_NOT_FOUND"]);
  });
});

describe("where the API is and who asks", () => {
  test("given a stage URL with a trailing slash, when read, then the path joins under the stage", async () => {
    api.basePath = "/dev";
    api.jobs.set("auto-gen-fox-1", api.job("auto-gen-fox-1", ["pending", "pending", "pending"]));

    await client({ baseUrl: `${baseUrl}/dev/` }).getMasterJob("auto-gen-fox-1");

    expect(api.requests.map((r) => r.path)).toEqual(["/dev/api/images/master-job/auto-gen-fox-1"]);
  });

  test("given a token that changes, when two requests are sent, then each carries the token of its time", async () => {
    api.jobs.set("auto-gen-fox-1", api.job("auto-gen-fox-1", ["pending", "pending", "pending"]));
    const tokens = ["old-token", api.token];
    const refreshing = client({ getIdToken: async () => tokens.shift() });

    const first = await caught(refreshing.getMasterJob("auto-gen-fox-1"));
    await refreshing.getMasterJob("auto-gen-fox-1");

    expect([first.status, first.code]).toEqual([401, "UNAUTHORIZED"]);
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(["Bearer old-token", `Bearer ${api.token}`]);
  });

  test("given no signed-in user, when read, then no Authorization is sent and 401 surfaces", async () => {
    const error = await caught(client({ getIdToken: () => null }).getMasterJob("auto-gen-fox-1"));

    expect(error.code).toBe("UNAUTHORIZED");
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
  });

  test("given an answer that is not the API's (a proxy's HTML 502), when read, then it fails as UNEXPECTED_RESPONSE with its status", async () => {
    api.failNext({ status: 502, text: "<html>Bad Gateway</html>" });

    const error = await caught(client().getMasterJob("auto-gen-fox-1"));

    expect([error.status, error.code, error.transient]).toEqual([502, UNEXPECTED_RESPONSE, true]);
  });

  test("given nothing listens, when read, then it fails as NETWORK_ERROR with status 0", async () => {
    await api.close();

    const error = await caught(client().getMasterJob("auto-gen-fox-1"));

    expect([error.status, error.code, error.transient]).toEqual([0, NETWORK_ERROR, true]);
  });
});
