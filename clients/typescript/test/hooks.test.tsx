/** The hooks on TanStack Query v5, against the fake API as their fetch, on fake timers: when they
 * poll, when they stop, how errors surface, and one Idempotency-Key per start. */

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook } from "@testing-library/react";
import type { ReactNode } from "react";
import { beforeEach, describe, expect, test, vi } from "vitest";

import { type StoryImagesClient, createStoryImagesClient } from "../src/index.js";
import {
  StoryImagesProvider,
  useCancelGeneration,
  useGenerateAllImagesAutomatically,
  useMasterJobStatus,
  useRetryGeneration,
} from "../src/react/index.js";
import { FakeStoryImagesApi } from "./fakeApi.js";
import { elapse, installFakeTime } from "./fakeTime.js";

const JOB = "auto-gen-fox-1795510800000";
const STATUS = "/api/images/master-job/";
const START = "/api/images/generate-all-automatically";
let api: FakeStoryImagesApi;

installFakeTime();

beforeEach(() => {
  api = new FakeStoryImagesApi();
  api.addStory("fox", 3);
});

function wrapper(client: StoryImagesClient = clientOf(api)) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { gcTime: Infinity } } });
  return ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>
      <StoryImagesProvider client={client}>{children}</StoryImagesProvider>
    </QueryClientProvider>
  );
}

function clientOf(fake: FakeStoryImagesApi, startRetries = 2): StoryImagesClient {
  return createStoryImagesClient({
    baseUrl: "http://api.test",
    getIdToken: () => fake.token,
    fetch: fake.fetch,
    startRetries,
    startRetryDelaysMs: [1],
  });
}

function statusReads(): number[] {
  return api.requestsTo("GET", STATUS).map((r) => r.at);
}

describe("useMasterJobStatus", () => {
  test("given a running job, when watched, then it polls every 5 s and stops once the job has ended", async () => {
    api.jobs.set(JOB, api.job(JOB, ["generating", "pending", "pending"]));
    api.script(JOB, [
      api.job(JOB, ["generating", "pending", "pending"]),
      api.job(JOB, ["completed", "generating", "pending"]),
      api.job(JOB, ["completed", "completed", "queued"]),
      api.job(JOB, ["completed", "completed", "completed"]),
    ]);
    const { result } = renderHook(() => useMasterJobStatus(JOB), { wrapper: wrapper() });

    await elapse(60_000);

    const reads = statusReads();
    expect(reads).toHaveLength(4);
    expect(reads.slice(1).map((at, i) => at - (reads[i] ?? 0))).toEqual([5_000, 5_000, 5_000]);
    expect(result.current.data?.masterJob.status).toBe("completed");
    expect(result.current.data?.summary).toMatchObject({ completed: 3, totalSlides: 3, overallProgress: 100 });
    expect(result.current.data?.slideJobs.map((s) => s.status)).toEqual(["completed", "completed", "completed"]);
  });

  test("given an interval, when watched, then it polls at that interval", async () => {
    api.jobs.set(JOB, api.job(JOB, ["generating", "pending", "pending"]));
    renderHook(() => useMasterJobStatus(JOB, { pollIntervalMs: 1_000 }), { wrapper: wrapper() });

    await elapse(3_000);

    expect(statusReads()).toHaveLength(4);
  });

  test("given no job id, when rendered, then nothing is asked", async () => {
    const { result } = renderHook(() => useMasterJobStatus(undefined), { wrapper: wrapper() });

    await elapse(30_000);

    expect(api.requests).toHaveLength(0);
    expect(result.current.fetchStatus).toBe("idle");
  });

  test("given an id that arrives later, when set, then polling starts", async () => {
    api.jobs.set(JOB, api.job(JOB, ["generating", "pending", "pending"]));
    const { result, rerender } = renderHook(({ id }: { id: string | null }) => useMasterJobStatus(id), {
      wrapper: wrapper(),
      initialProps: { id: null as string | null },
    });
    await elapse(10_000);

    rerender({ id: JOB });
    await elapse(5_000);

    expect(statusReads()).toHaveLength(2);
    expect(result.current.data?.masterJob.jobId).toBe(JOB);
  });

  test("given an unknown job, when watched, then the error surfaces with its code and polling stops", async () => {
    const { result } = renderHook(() => useMasterJobStatus("auto-gen-nope-1"), { wrapper: wrapper() });

    await elapse(60_000);

    expect(result.current.error?.code).toBe("JOB_NOT_FOUND");
    expect(result.current.error?.status).toBe(404);
    expect(statusReads()).toHaveLength(1);
  });

  test("given the API failing for a while, when watched, then the polls back off, surface the error, and return to 5 s once it answers", async () => {
    api.jobs.set(JOB, api.job(JOB, ["generating", "pending", "pending"]));
    const unavailable = { status: 503, body: { success: false, error: { code: "STORE_UNAVAILABLE", message: "later" } } };
    const { result } = renderHook(() => useMasterJobStatus(JOB), { wrapper: wrapper() });
    await elapse(0);
    api.failNext(unavailable, unavailable, unavailable, unavailable, unavailable);

    await elapse(5_000);
    expect(result.current.error?.code).toBe("STORE_UNAVAILABLE");
    expect(result.current.data?.masterJob.jobId).toBe(JOB); // the last good answer stays
    await elapse(10_000 + 20_000 + 40_000 + 60_000 + 60_000 + 5_000);

    const reads = statusReads();
    const gaps = reads.slice(1).map((at, i) => at - (reads[i] ?? 0));
    expect(gaps).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 5_000]);
    expect(result.current.error).toBeNull();
  });
});

describe("useGenerateAllImagesAutomatically", () => {
  test("given a story, when mutateAsync is awaited, then result.masterJobId names the new job", async () => {
    const { result } = renderHook(() => useGenerateAllImagesAutomatically(), { wrapper: wrapper() });

    let masterJobId = "";
    await act(async () => {
      const started = result.current.mutateAsync({ storyId: "fox", useCharacterConsistency: true });
      await vi.advanceTimersByTimeAsync(0);
      masterJobId = (await started).masterJobId;
    });

    expect(api.jobs.has(masterJobId)).toBe(true);
    expect(api.requestsTo("POST", START)[0]?.body).toEqual({ storyId: "fox", useCharacterConsistency: true });
  });

  test("given a lost answer and TanStack's retry, when started once, then every attempt sends one key and one job exists", async () => {
    api.failNext("lose-answer");
    const { result } = renderHook(() => useGenerateAllImagesAutomatically({ retry: 1, retryDelay: 10 }), {
      wrapper: wrapper(clientOf(api, 0)),
    });

    await act(async () => {
      const started = result.current.mutateAsync({ storyId: "fox" });
      await vi.advanceTimersByTimeAsync(100);
      await started;
    });

    const keys = api.requestsTo("POST", START).map((r) => r.headers["idempotency-key"]);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(api.jobs.size).toBe(1);
  });

  test("given the same request object twice, when started twice, then each start has its own key", async () => {
    const request = { storyId: "fox" };
    const { result } = renderHook(() => useGenerateAllImagesAutomatically(), { wrapper: wrapper() });

    await act(async () => {
      const first = result.current.mutateAsync(request);
      await vi.advanceTimersByTimeAsync(0);
      await first;
      const second = result.current.mutateAsync(request);
      await vi.advanceTimersByTimeAsync(0);
      await second;
    });

    const keys = api.requestsTo("POST", START).map((r) => r.headers["idempotency-key"]);
    expect(new Set(keys).size).toBe(2);
    expect(api.jobs.size).toBe(2);
  });

  test("given an unknown story, when started, then the mutation's error carries the API's code", async () => {
    const { result } = renderHook(() => useGenerateAllImagesAutomatically(), { wrapper: wrapper() });

    await act(async () => {
      result.current.mutate({ storyId: "nope" });
      await vi.advanceTimersByTimeAsync(0);
    });

    expect(result.current.error?.code).toBe("STORY_NOT_FOUND");
  });
});

describe("useCancelGeneration and useRetryGeneration", () => {
  function watchedWith<T>(useAction: () => T) {
    return renderHook(() => ({ status: useMasterJobStatus(JOB), action: useAction() }), { wrapper: wrapper() });
  }

  test("given a running job, when cancelled, then its status reads cancelled at once and polling stops", async () => {
    api.jobs.set(JOB, api.job(JOB, ["completed", "generating", "pending"]));
    const { result } = watchedWith(() => useCancelGeneration());
    await elapse(0);

    await act(async () => {
      result.current.action.mutate(JOB);
      await vi.advanceTimersByTimeAsync(0);
    });
    const readsAtCancel = statusReads().length;
    await elapse(60_000);

    expect(result.current.status.data?.masterJob.status).toBe("cancelled");
    expect(result.current.status.data?.summary.skipped).toBe(2);
    expect(statusReads()).toHaveLength(readsAtCancel);
  });

  test("given a job that ended with a failed slide, when retried, then its status reads the new run and polling starts again", async () => {
    api.jobs.set(JOB, api.job(JOB, ["completed", "failed", "completed"]));
    const { result } = watchedWith(() => useRetryGeneration());
    await elapse(30_000);
    expect(statusReads()).toHaveLength(1);

    await act(async () => {
      result.current.action.mutate(JOB);
      await vi.advanceTimersByTimeAsync(0);
    });
    api.script(JOB, [api.job(JOB, ["completed", "generating", "completed"], { run: 1 })]);
    const readsAtRetry = statusReads().length;
    await elapse(10_000);

    expect(result.current.status.data?.masterJob.run).toBe(1);
    expect(result.current.status.data?.masterJob.status).toBe("generating");
    expect(statusReads().length).toBe(readsAtRetry + 2);
  });

  test("given a running job, when retried, then 409 JOB_STILL_RUNNING surfaces", async () => {
    api.jobs.set(JOB, api.job(JOB, ["completed", "generating", "pending"]));
    const { result } = watchedWith(() => useRetryGeneration());

    await act(async () => {
      result.current.action.mutate(JOB);
      await vi.advanceTimersByTimeAsync(0);
    });

    expect(result.current.action.error?.code).toBe("JOB_STILL_RUNNING");
    expect(result.current.action.error?.status).toBe(409);
  });
});
