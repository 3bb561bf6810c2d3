/** Fake time for the hook and component tests: timers and Date only (the fake API's Request
 * bodies are read on Node's own queues), and TanStack told to notify its observers on a
 * microtask instead of a zero-delay timer, so an advance of fake time ends with every answer that
 * arrived in it rendered. */

import { notifyManager } from "@tanstack/react-query";
import { act } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";

export function installFakeTime(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    notifyManager.setScheduler(queueMicrotask);
  });
  afterEach(() => {
    notifyManager.setScheduler((callback) => setTimeout(callback, 0));
    vi.useRealTimers();
  });
}

/** Let `ms` of fake time pass, with React's updates applied. */
export async function elapse(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}
