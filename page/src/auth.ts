// Which token the page runs with: the one this tab signed in with; else, on a development server
// reached on this machine, the server's development token (GET /v1/development-token answers
// only there, and only to its own page); else none, and the page asks for one.
import { Api, ApiError } from "./api.ts";
import { tabStorage } from "./storage.ts";

export async function knownToken(): Promise<string | null> {
  const kept = tabStorage.token();
  if (kept) return kept;
  const answer = await fetch("/v1/development-token", { cache: "no-store" }).catch(() => null);
  if (!answer?.ok) return null;
  const { token } = (await answer.json()) as { token?: unknown };
  if (typeof token !== "string") return null;
  tabStorage.setToken(token);
  return token;
}

/** What is wrong with a token a person pasted, in the server's words; null when it works. */
export async function tokenProblem(token: string): Promise<string | null> {
  try {
    await new Api(token).sessions();
    return null;
  } catch (error) {
    return error instanceof ApiError ? error.message : `the server could not be asked: ${(error as Error).message}`;
  }
}
