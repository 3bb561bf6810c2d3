/** The hooks the app calls: start, watch, cancel and retry a job, on TanStack Query v5. */

import {
  type Query,
  type UseMutationOptions,
  type UseMutationResult,
  type UseQueryResult,
  useMutation,
  useQuery,
  useQueryClient,
} from "@tanstack/react-query";
import { useCallback, useRef } from "react";

import { newIdempotencyKey } from "../client.js";
import { StoryImagesError } from "../errors.js";
import { isTerminal } from "../jobs.js";
import type { JobStatusData, StartData, StartRequest } from "../types.js";
import { useStoryImagesClient } from "./context.js";

/** The app's poll: every 5 s, as the status endpoint is priced for (one document read). */
export const DEFAULT_POLL_INTERVAL_MS = 5_000;
/** The longest wait between polls while the API keeps failing. */
export const DEFAULT_MAX_BACKOFF_MS = 60_000;

export const storyImagesKeys = {
  all: ["storyimages"] as const,
  masterJob: (masterJobId: string) => ["storyimages", "master-job", masterJobId] as const,
};

export interface MasterJobStatusOptions {
  /** Milliseconds between polls while the job runs (default 5,000). */
  pollIntervalMs?: number;
  /** While polls fail with a transient error, each wait doubles up to this (default 60,000). */
  maxBackoffMs?: number;
  /** false: do not fetch at all (no id is the same). */
  enabled?: boolean;
}

/** The job, its slides and a summary (the status answer's `data`), polled while the job runs:
 * every `pollIntervalMs`, never without an id, never once the job has ended (until a retry makes
 * it run again), backing off while the API fails and stopping on an error that will not pass
 * (404 JOB_NOT_FOUND, 401). Polling pauses while the tab is in the background. */
export function useMasterJobStatus(
  masterJobId: string | null | undefined,
  options: MasterJobStatusOptions = {},
): UseQueryResult<JobStatusData, StoryImagesError> {
  const client = useStoryImagesClient();
  const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const maxBackoff = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  return useQuery<JobStatusData, StoryImagesError, JobStatusData, readonly string[]>({
    queryKey: storyImagesKeys.masterJob(masterJobId ?? ""),
    queryFn: ({ signal }) => client.getMasterJob(masterJobId as string, { signal }),
    enabled: Boolean(masterJobId) && (options.enabled ?? true),
    // Polling is the retry: a failed poll shows its error at once and the next one backs off.
    retry: false,
    refetchInterval: (query) => nextPoll(query, interval, maxBackoff),
  });
}

/** Milliseconds until the next poll, or false to stop. */
function nextPoll(
  query: Query<JobStatusData, StoryImagesError, JobStatusData, readonly string[]>,
  interval: number,
  maxBackoff: number,
): number | false {
  const { state } = query;
  const failures = failuresInARow(query);
  if (state.status === "error") {
    if (!(state.error instanceof StoryImagesError) || !state.error.transient) return false;
    return Math.min(maxBackoff, interval * 2 ** failures);
  }
  return state.data !== undefined && isTerminal(state.data.masterJob.status) ? false : interval;
}

// Each query's error count at its last success: the failures since are the ones in a row. Kept
// on the query, not in a hook, so every component watching the job backs off alike.
const errorsAtLastSuccess = new WeakMap<object, number>();

function failuresInARow(query: Query<JobStatusData, StoryImagesError, JobStatusData, readonly string[]>): number {
  const { errorUpdateCount, errorUpdatedAt, dataUpdatedAt } = query.state;
  if (dataUpdatedAt >= errorUpdatedAt) {
    errorsAtLastSuccess.set(query, errorUpdateCount);
    return 0;
  }
  return errorUpdateCount - (errorsAtLastSuccess.get(query) ?? 0);
}

type StartMutationOptions = Omit<UseMutationOptions<StartData, StoryImagesError, StartRequest>, "mutationFn">;

/** Start generating every image of a story: `mutateAsync(request)` resolves to the start
 * answer's `data`, so `result.masterJobId` names the job to watch. Each call is one logical start
 * with one Idempotency-Key, kept across the client's and TanStack's retries of it, so a start
 * whose answer was lost can never start twice. */
export function useGenerateAllImagesAutomatically(
  options: StartMutationOptions = {},
): UseMutationResult<StartData, StoryImagesError, StartRequest> {
  const client = useStoryImagesClient();
  const queryClient = useQueryClient();
  const keys = useRef(new WeakMap<StartRequest, string>());
  const mutation = useMutation<StartData, StoryImagesError, StartRequest>({
    ...options,
    mutationFn: (request) => {
      let idempotencyKey = keys.current.get(request);
      if (idempotencyKey === undefined) {
        idempotencyKey = newIdempotencyKey();
        keys.current.set(request, idempotencyKey);
      }
      return client.startGeneration(request, { idempotencyKey });
    },
    onSuccess: async (data, ...rest) => {
      await queryClient.invalidateQueries({ queryKey: storyImagesKeys.masterJob(data.masterJobId) });
      await options.onSuccess?.(data, ...rest);
    },
  });
  // TanStack hands a retried mutation the same variables object: a fresh copy per call makes
  // the key one per call, whatever object the app passes.
  const { mutate: send, mutateAsync: sendAsync } = mutation;
  const mutate = useCallback<typeof send>((request, callbacks) => send({ ...request }, callbacks), [send]);
  const mutateAsync = useCallback<typeof sendAsync>((request, callbacks) => sendAsync({ ...request }, callbacks), [
    sendAsync,
  ]);
  return { ...mutation, mutate, mutateAsync };
}

type JobMutationOptions = Omit<UseMutationOptions<JobStatusData, StoryImagesError, string>, "mutationFn">;

/** Cancel a running job: `mutate(masterJobId)`. The job's status query gets the answer (now
 * `cancelled`) at once, then is read again. */
export function useCancelGeneration(
  options: JobMutationOptions = {},
): UseMutationResult<JobStatusData, StoryImagesError, string> {
  const client = useStoryImagesClient();
  return useJobMutation((masterJobId) => client.cancelJob(masterJobId), options);
}

/** Generate again every slide without an image, as a new run: `mutate(masterJobId)`. The job's
 * status query gets the answer (`generating` again), which starts its polling again. */
export function useRetryGeneration(
  options: JobMutationOptions = {},
): UseMutationResult<JobStatusData, StoryImagesError, string> {
  const client = useStoryImagesClient();
  return useJobMutation((masterJobId) => client.retryJob(masterJobId), options);
}

function useJobMutation(
  act: (masterJobId: string) => Promise<JobStatusData>,
  options: JobMutationOptions,
): UseMutationResult<JobStatusData, StoryImagesError, string> {
  const queryClient = useQueryClient();
  return useMutation<JobStatusData, StoryImagesError, string>({
    ...options,
    mutationFn: act,
    onSuccess: async (data, masterJobId, ...rest) => {
      const queryKey = storyImagesKeys.masterJob(masterJobId);
      queryClient.setQueryData(queryKey, data);
      await queryClient.invalidateQueries({ queryKey });
      await options.onSuccess?.(data, masterJobId, ...rest);
    },
  });
}
