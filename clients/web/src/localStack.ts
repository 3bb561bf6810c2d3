/** What only the local stack offers, for trying the API without Firebase: development ID tokens
 * for any uid (the local authorizer trusts them; AWS never does) and the stories in its Firestore
 * emulator. A real app signs in with Firebase Auth and reads its stories from Firestore itself. */

export interface LocalStory {
  storyId: string;
  ownerId: string;
  title: string;
  slides: number;
}

export async function developmentToken(uid: string): Promise<string> {
  const response = await fetch("/_local/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ uid }),
  });
  if (!response.ok) throw new Error(`no development token for ${uid}: ${response.status}`);
  const { token } = (await response.json()) as { token: string };
  return token;
}

export async function localStories(): Promise<LocalStory[]> {
  const response = await fetch("/_local/stories");
  if (!response.ok) throw new Error(`could not list the local stories: ${response.status}`);
  const { stories } = (await response.json()) as { stories: LocalStory[] };
  return stories;
}
