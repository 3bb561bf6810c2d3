/** A fake storyimages API that records every request it gets: the four routes with the
 * behaviour the client relies on (bearer token, Idempotency-Key replay, 404 for unknown jobs, 409
 * for cancel/retry in the wrong state), answers typed by the generated schema, and faults to
 * inject. It serves as a `fetch` (no sockets: hook tests run on fake timers) or over real HTTP on
 * 127.0.0.1 (the client's own tests: headers, lost answers, refused connections). */

import { type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

import type { components } from "../src/schema.js";

type Schemas = components["schemas"];
export type JobStatusData = Schemas["JobStatusData"];
type SlideJob = Schemas["SlideJobBody"];
type SlideStatus = SlideJob["status"];
type JobStatus = Schemas["MasterJobBody"]["status"];

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  /** Date.now() when it arrived (fake timers move it). */
  at: number;
}

/** An answer the fake gives instead of its own: a status with a body, a body that is not JSON,
 * or `lose-answer` (the request is handled, then the connection drops before the answer). */
export type Fault = { status: number; body?: unknown; text?: string } | "lose-answer";

const TERMINAL: ReadonlySet<string> = new Set(["completed", "completed_with_errors", "failed", "cancelled"]);
const FINISHED_SLIDE: ReadonlySet<string> = new Set(["completed", "failed", "skipped"]);

export class FakeStoryImagesApi {
  readonly requests: RecordedRequest[] = [];
  readonly jobs = new Map<string, JobStatusData>();
  readonly stories = new Map<string, number>();
  /** The token the fake accepts; any other answers 401. */
  token = "token-user-1";
  /** Requests are served under this path (a deployed API's stage, `/dev`). */
  basePath = "";
  private readonly faults: Fault[] = [];
  private readonly scripts = new Map<string, JobStatusData[]>();
  private readonly keys = new Map<string, string>();
  private server: Server | undefined;
  private clock = Date.parse("2026-12-07T10:00:00Z");

  addStory(storyId: string, slides: number): void {
    this.stories.set(storyId, slides);
  }

  /** The next answers, whatever is asked. */
  failNext(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  /** Each status read of `jobId` moves it to the next of `states` (staying on the last). */
  script(jobId: string, states: JobStatusData[]): void {
    this.scripts.set(jobId, [...states]);
  }

  /** A job as the API would answer it, with its summary derived from the slides. */
  job(jobId: string, slides: SlideStatus[], { status, run = 0 }: { status?: JobStatus; run?: number } = {}): JobStatusData {
    const completed = slides.filter((s) => s === "completed").length;
    const errors = slides.filter((s) => s === "failed").length;
    const skipped = slides.filter((s) => s === "skipped").length;
    const queued = slides.filter((s) => s === "queued").length;
    const finished = completed + errors + skipped;
    const derived = status ?? derivedStatus(slides);
    const overallProgress = Math.round((100 * finished) / slides.length);
    const now = new Date((this.clock += 1_000)).toISOString();
    const slideJobs: SlideJob[] = slides.map((slideStatus, index) => ({
      jobId: `${jobId}-slide-${index + 1}`,
      slideNumber: index + 1,
      status: slideStatus,
      progress: FINISHED_SLIDE.has(slideStatus) ? 100 : slideStatus === "generating" ? 50 : 0,
      result:
        slideStatus === "completed"
          ? { imageUrl: `https://images.example.com/${jobId}/slide-${index + 1}.png`, size: "1024x1024", model: "gpt-image-2", format: "png" }
          : null,
      error:
        slideStatus === "failed"
          ? { code: "IMAGE_REJECTED", message: "the image was refused by the content policy", details: null }
          : slideStatus === "skipped"
            ? { code: "CANCELLED", message: "the job was cancelled first", details: null }
            : null,
    }));
    return {
      masterJob: {
        jobId,
        type: "auto-generation-sequence",
        storyId: jobId.replace(/^auto-gen-/, "").replace(/-\d+$/, ""),
        status: derived,
        progress: overallProgress,
        currentSlide: Math.min(slides.length, finished + 1),
        totalSlides: slides.length,
        useCharacterConsistency: true,
        referenceSlide: slides[0] === "completed" ? 1 : null,
        createdAt: now,
        updatedAt: now,
        finishedAt: TERMINAL.has(derived) ? now : null,
        run,
        queuedSince: queued > 0 ? now : null,
        error: null,
        webhook: null,
      },
      slideJobs,
      summary: {
        totalSlides: slides.length,
        completed,
        errors,
        skipped,
        inProgress: slides.length - finished,
        queued,
        overallProgress,
      },
    };
  }

  /** Requests of one kind, e.g. `requestsTo("GET", "/api/images/master-job/")`. */
  requestsTo(method: string, pathPrefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(this.basePath + pathPrefix));
  }

  /** Use as the client's `fetch`: no sockets. */
  readonly fetch = async (request: Request): Promise<Response> => {
    const fault = this.faults.shift();
    if (fault === "lose-answer") {
      await this.handle(request);
      throw new TypeError("fetch failed: the connection closed before the answer");
    }
    if (fault !== undefined) {
      await this.record(request);
      return fault.text !== undefined
        ? new Response(fault.text, { status: fault.status, headers: { "content-type": "text/html" } })
        : json(fault.status, fault.body ?? {});
    }
    return this.handle(request);
  };

  /** Serve over HTTP on 127.0.0.1 (a free port); the base URL. */
  async listen(): Promise<string> {
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          if (typeof value === "string") headers.set(name, value);
        }
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const request = new Request(`http://127.0.0.1${incoming.url ?? "/"}`, {
          method: incoming.method ?? "GET",
          headers,
          ...(body ? { body } : {}),
        });
        void this.answer(request, outgoing);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async answer(request: Request, outgoing: ServerResponse): Promise<void> {
    if (this.faults[0] === "lose-answer") {
      this.faults.shift();
      await this.handle(request);
      outgoing.socket?.destroy();
      return;
    }
    const response = await this.fetch(request);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  private async record(request: Request): Promise<RecordedRequest> {
    const text = await request.clone().text();
    const recorded: RecordedRequest = {
      method: request.method,
      path: new URL(request.url).pathname,
      headers: Object.fromEntries(request.headers),
      body: text ? (JSON.parse(text) as unknown) : undefined,
      at: Date.now(),
    };
    this.requests.push(recorded);
    return recorded;
  }

  private async handle(request: Request): Promise<Response> {
    const { method, path, headers, body } = await this.record(request);
    if (headers.authorization !== `Bearer ${this.token}`) {
      return error(401, "UNAUTHORIZED", "missing, malformed, expired or wrongly signed token");
    }
    const route = path.startsWith(this.basePath) ? path.slice(this.basePath.length) : path;
    if (method === "POST" && route === "/api/images/generate-all-automatically") {
      return this.start(body as Schemas["StartRequest"], headers["idempotency-key"]);
    }
    const match = /^\/api\/images\/master-job\/([^/]+)(\/cancel|\/retry)?$/.exec(route);
    const jobId = match?.[1];
    if (jobId === undefined) return error(404, "ROUTE_NOT_FOUND", "no such route");
    const current = this.jobs.get(jobId);
    if (current === undefined) return error(404, "JOB_NOT_FOUND", `job '${jobId}' does not exist`);
    if (method === "GET" && match?.[2] === undefined) {
      const next = this.scripts.get(jobId)?.shift();
      if (next !== undefined) this.jobs.set(jobId, next);
      return json(200, { success: true, data: this.jobs.get(jobId) });
    }
    if (method === "POST" && match?.[2] === "/cancel") return this.cancel(current);
    if (method === "POST" && match?.[2] === "/retry") return this.retry(current);
    return error(404, "ROUTE_NOT_FOUND", "no such route");
  }

  private start(request: Schemas["StartRequest"], key: string | undefined): Response {
    const replayed = key !== undefined ? this.keys.get(key) : undefined;
    if (replayed !== undefined) return json(200, { success: true, data: this.startData(replayed, { replay: true }) });
    const slides = this.stories.get(request.storyId);
    if (slides === undefined) return error(404, "STORY_NOT_FOUND", `story '${request.storyId}' does not exist`);
    const jobId = `auto-gen-${request.storyId}-${(this.clock += 1_000)}`;
    this.jobs.set(jobId, this.job(jobId, Array<SlideStatus>(slides).fill("pending")));
    if (key !== undefined) this.keys.set(key, jobId);
    return json(202, { success: true, data: this.startData(jobId, { replay: false }) });
  }

  private startData(jobId: string, { replay }: { replay: boolean }): Schemas["StartData"] {
    const slides = this.jobs.get(jobId)?.summary.totalSlides ?? 0;
    return {
      masterJobId: jobId,
      message: "Automatic image generation started. Images will be generated sequentially.",
      totalSlides: slides,
      estimatedTime: `${slides} minutes`,
      estimatedSeconds: slides * 60,
      alreadyRunning: false,
      idempotentReplay: replay,
    };
  }

  private cancel(job: JobStatusData): Response {
    if (TERMINAL.has(job.masterJob.status)) return error(409, "JOB_ALREADY_FINISHED", "the job has already ended");
    const slides = job.slideJobs.map((s) => (FINISHED_SLIDE.has(s.status) ? s.status : "skipped"));
    const cancelled = this.job(job.masterJob.jobId, slides, { status: "cancelled", run: job.masterJob.run });
    this.jobs.set(job.masterJob.jobId, cancelled);
    return json(200, { success: true, data: cancelled });
  }

  private retry(job: JobStatusData): Response {
    if (!TERMINAL.has(job.masterJob.status)) return error(409, "JOB_STILL_RUNNING", "the job is still running");
    if (job.summary.completed === job.summary.totalSlides) {
      return error(409, "NOTHING_TO_RETRY", "every slide has its image");
    }
    const slides = job.slideJobs.map((s) => (s.status === "completed" ? s.status : "pending"));
    const retried = this.job(job.masterJob.jobId, slides, { status: "generating", run: job.masterJob.run + 1 });
    this.jobs.set(job.masterJob.jobId, retried);
    return json(202, { success: true, data: retried });
  }
}

/** How the API reads a run from its slides: ended once none is waiting, failed when none has an image. */
function derivedStatus(slides: SlideStatus[]): JobStatus {
  if (slides.some((s) => !FINISHED_SLIDE.has(s))) {
    return slides.every((s) => s === "pending") ? "pending" : "generating";
  }
  const errors = slides.filter((s) => s === "failed").length;
  if (errors === slides.length) return "failed";
  return errors > 0 ? "completed_with_errors" : "completed";
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function error(status: number, code: string, message: string): Response {
  return json(status, { success: false, error: { code, message } });
}
