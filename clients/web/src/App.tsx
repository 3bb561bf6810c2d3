/** Pick a development user and one of their stories, generate all its images, watch them
 * arrive; cancel, retry. The page keeps its choices in the URL (`?user=…&job=…`), so a reload
 * comes back to the same job; `?poll=<ms>` polls faster than the app's 5 s. */

import { createStoryImagesClient, isStoryImagesError } from "@storyimages/client";
import { GenerationProgress, StoryImagesProvider, useGenerateAllImagesAutomatically } from "@storyimages/client/react";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";

import { developmentToken, localStories } from "./localStack";

const DEFAULT_USER = "demo-user";
// Development tokens live an hour, like Firebase's: ask for a new one well before.
const TOKEN_REFRESH_MS = 50 * 60 * 1000;

/** What Firebase's `getIdToken()` is to a real app: the user's token, cached and refreshed. */
function tokenSource(uid: string): () => Promise<string> {
  let current: { token: Promise<string>; at: number } | null = null;
  return () => {
    if (current === null || Date.now() - current.at > TOKEN_REFRESH_MS) {
      const token = developmentToken(uid);
      current = { token, at: Date.now() };
      token.catch(() => {
        current = null; // the next request asks again
      });
    }
    return current.token;
  };
}

function readParams(): { user: string; job: string | null; poll: number | undefined } {
  const params = new URLSearchParams(window.location.search);
  const poll = Number(params.get("poll"));
  return {
    user: params.get("user") || DEFAULT_USER,
    job: params.get("job"),
    poll: Number.isFinite(poll) && poll > 0 ? poll : undefined,
  };
}

function writeParams(changes: Record<string, string | null>): void {
  const params = new URLSearchParams(window.location.search);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) params.delete(name);
    else params.set(name, value);
  }
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
}

export function App() {
  const initial = useMemo(readParams, []);
  const [user, setUser] = useState(initial.user);
  const [masterJobId, setMasterJobId] = useState<string | null>(initial.job);
  const client = useMemo(
    () => createStoryImagesClient({ baseUrl: window.location.origin, getIdToken: tokenSource(user) }),
    [user],
  );
  const stories = useQuery({ queryKey: ["local-stories"], queryFn: localStories });
  const owners = [...new Set((stories.data ?? []).map((story) => story.ownerId))].sort();

  return (
    <main className="page">
      <header>
        <h1>storyimages</h1>
        <p className="hint">Local stack: development users only. The app would sign in with Firebase.</p>
      </header>
      <StoryImagesProvider client={client}>
        <section className="controls" aria-label="Choose a story">
          <label>
            Development user
            <input
              list="owners"
              value={user}
              onChange={(event) => {
                setUser(event.target.value);
                setMasterJobId(null);
                writeParams({ user: event.target.value, job: null });
              }}
            />
            <datalist id="owners">
              {owners.map((owner) => (
                <option key={owner} value={owner} />
              ))}
            </datalist>
          </label>
          <StartForm
            stories={(stories.data ?? []).filter((story) => story.ownerId === user)}
            loading={stories.isPending}
            onStarted={(jobId) => {
              setMasterJobId(jobId);
              writeParams({ job: jobId });
            }}
          />
        </section>
        {masterJobId ? (
          <GenerationProgress
            key={masterJobId}
            masterJobId={masterJobId}
            className="progress"
            {...(initial.poll === undefined ? {} : { pollIntervalMs: initial.poll })}
          />
        ) : null}
      </StoryImagesProvider>
    </main>
  );
}

function StartForm({
  stories,
  loading,
  onStarted,
}: {
  stories: { storyId: string; title: string; slides: number }[];
  loading: boolean;
  onStarted: (masterJobId: string) => void;
}) {
  const [chosen, setChosen] = useState<string>("");
  const [consistent, setConsistent] = useState(true);
  const { mutateAsync: generateAll, isPending, error } = useGenerateAllImagesAutomatically();
  const storyId = stories.some((story) => story.storyId === chosen) ? chosen : (stories[0]?.storyId ?? "");

  return (
    <form
      onSubmit={async (event) => {
        event.preventDefault();
        try {
          const result = await generateAll({ storyId, useCharacterConsistency: consistent });
          onStarted(result.masterJobId);
        } catch (failure) {
          if (!isStoryImagesError(failure)) throw failure; // shown below from the mutation's error
        }
      }}
    >
      <label>
        Story
        <select value={storyId} onChange={(event) => setChosen(event.target.value)} disabled={!stories.length}>
          {stories.map((story) => (
            <option key={story.storyId} value={story.storyId}>
              {story.title} ({story.slides} slides)
            </option>
          ))}
        </select>
      </label>
      {!loading && !stories.length ? <p className="hint">This user has no stories.</p> : null}
      <label className="checkbox">
        <input type="checkbox" checked={consistent} onChange={(event) => setConsistent(event.target.checked)} />
        Keep characters consistent (the first image is the reference)
      </label>
      <button type="submit" disabled={!storyId || isPending}>
        Generate all images
      </button>
      {error ? (
        <p role="alert" className="si-problem">
          {error.code}: {error.message}
        </p>
      ) : null}
    </form>
  );
}
