/** The progress component as a person (and a screen reader) meets it, against the fake API. */

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, expect, test } from "vitest";

import { createStoryImagesClient } from "../src/index.js";
import { GenerationProgress, StoryImagesProvider } from "../src/react/index.js";
import { FakeStoryImagesApi } from "./fakeApi.js";
import { elapse, installFakeTime } from "./fakeTime.js";

const JOB = "auto-gen-fox-1795510800000";
let api: FakeStoryImagesApi;

installFakeTime();

beforeEach(() => {
  api = new FakeStoryImagesApi();
});

afterEach(() => {
  cleanup();
});

async function shown(masterJobId = JOB): Promise<void> {
  const client = createStoryImagesClient({ baseUrl: "http://api.test", getIdToken: () => api.token, fetch: api.fetch });
  render(
    <QueryClientProvider client={new QueryClient()}>
      <StoryImagesProvider client={client}>
        <GenerationProgress masterJobId={masterJobId} />
      </StoryImagesProvider>
    </QueryClientProvider>,
  );
  await elapse(0);
}

function count(name: string): string | null | undefined {
  return document.querySelector(`[data-count="${name}"]`)?.textContent;
}

test("given a running job, when shown, then the bar, the counts and each slide's state and thumbnail are there, with Cancel", async () => {
  api.jobs.set(JOB, api.job(JOB, ["completed", "completed", "queued", "generating", "pending"]));

  await shown();

  const bar = screen.getByRole("progressbar", { name: "Overall progress" });
  expect(bar.getAttribute("aria-valuenow")).toBe("40");
  expect([count("completed"), count("errors"), count("queued"), count("total")]).toEqual(["2", "0", "1", "5"]);
  expect(screen.getByRole("status").textContent).toBe("Generating images: 2 of 5 images");
  const thumbnails = screen.getAllByRole("img").map((img) => [img.getAttribute("alt"), img.getAttribute("src")]);
  expect(thumbnails).toEqual([
    ["slide 1", `https://images.example.com/${JOB}/slide-1.png`],
    ["slide 2", `https://images.example.com/${JOB}/slide-2.png`],
  ]);
  const tiles = screen.getAllByRole("listitem");
  expect(tiles.map((tile) => tile.getAttribute("data-status"))).toEqual([
    "completed",
    "completed",
    "queued",
    "generating",
    "pending",
  ]);
  expect(within(tiles[2] as HTMLElement).getByText("Queued")).toBeTruthy();
  expect(screen.getByRole("button", { name: "Cancel" })).toBeTruthy();
  expect(screen.queryByRole("button", { name: "Retry failed slides" })).toBeNull();
});

test("given new images between polls, when the next poll arrives, then earlier thumbnails keep their element and URL", async () => {
  api.jobs.set(JOB, api.job(JOB, ["completed", "generating", "pending"]));
  api.script(JOB, [api.job(JOB, ["completed", "generating", "pending"]), api.job(JOB, ["completed", "completed", "generating"])]);
  await shown();
  const first = screen.getByAltText("slide 1");

  await elapse(5_000);

  expect(screen.getByAltText("slide 1")).toBe(first);
  expect(screen.getByAltText("slide 2").getAttribute("src")).toBe(`https://images.example.com/${JOB}/slide-2.png`);
  expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("67");
});

test("given a job that ended with a rejected slide, when Retry is pressed, then a new run starts and the job reads generating", async () => {
  api.jobs.set(JOB, api.job(JOB, ["completed", "failed", "completed"]));
  await shown();
  expect(count("errors")).toBe("1");
  expect(screen.getByText("IMAGE_REJECTED").getAttribute("title")).toBe("the image was refused by the content policy");
  expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();

  fireEvent.click(screen.getByRole("button", { name: "Retry failed slides" }));
  await elapse(0);

  expect(api.requestsTo("POST", `/api/images/master-job/${JOB}/retry`)).toHaveLength(1);
  expect(screen.getByRole("status").textContent).toBe("Generating images: 2 of 3 images (retry 1)");
  expect(screen.getByRole("button", { name: "Cancel" })).toBeTruthy();
});

test("given a running job, when Cancel is pressed, then it reads cancelled with the unfinished slides skipped", async () => {
  api.jobs.set(JOB, api.job(JOB, ["completed", "generating", "pending"]));
  await shown();

  fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
  await elapse(0);

  expect(screen.getByRole("status").textContent).toBe("Cancelled: 1 of 3 images");
  expect(count("skipped")).toBe("2");
  expect(screen.getByRole("button", { name: "Retry failed slides" })).toBeTruthy();
});

test("given a job that ended while the page watched, when Cancel is pressed, then the API's 409 is shown as an alert", async () => {
  api.jobs.set(JOB, api.job(JOB, ["completed", "generating"]));
  await shown();
  api.jobs.set(JOB, api.job(JOB, ["completed", "completed"]));

  fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
  await elapse(0);

  expect(screen.getByRole("alert").textContent).toBe("JOB_ALREADY_FINISHED: the job has already ended");
});

test("given an unknown job, when shown, then its error is an alert with the API's code", async () => {
  await shown("auto-gen-nope-1");

  expect(screen.getByRole("alert").getAttribute("data-code")).toBe("JOB_NOT_FOUND");
});
