import { type ReactNode, createContext, useContext } from "react";

import type { StoryImagesClient } from "../client.js";

const ClientContext = createContext<StoryImagesClient | null>(null);

/** Gives the hooks and components below it their client (base URL and token). Put it inside
 * TanStack Query's QueryClientProvider. */
export function StoryImagesProvider({ client, children }: { client: StoryImagesClient; children?: ReactNode }) {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

export function useStoryImagesClient(): StoryImagesClient {
  const client = useContext(ClientContext);
  if (client === null) {
    throw new Error("storyimages hooks need <StoryImagesProvider client={createStoryImagesClient(...)}> above them");
  }
  return client;
}
