// What the tab keeps in its session storage, which lives as long as the tab (a reload keeps it,
// another tab has its own, and nothing of it is ever in a URL): the token, the session the
// notebook runs in, and each session's notebook with the last seq it has seen. A notebook and its
// seq are written together, so after a reload replay starts exactly where the kept notebook ends.
import type { Notebook } from "./notebook.ts";

const TOKEN = "wasm-repl.token";
const CURRENT = "wasm-repl.session";
const SIGNED_OUT = "wasm-repl.signed-out";
/** The notebook of a session, or of none yet ("draft": nothing was run). */
const notebookKey = (session: string | null) => `wasm-repl.notebook.${session ?? "draft"}`;

interface KeptNotebook {
  notebook: Notebook;
  /** The newest seq the notebook holds: attach with ?since= this. */
  lastSeq: number | null;
}

export const tabStorage = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN);
  },

  setToken(token: string): void {
    sessionStorage.setItem(TOKEN, token);
  },

  /** Signing out forgets everything the tab kept (the token, the notebooks) but why, shown after the reload. */
  signOut(why: string | null): void {
    sessionStorage.clear();
    if (why) sessionStorage.setItem(SIGNED_OUT, why);
  },

  /** Why the tab was signed out, once. */
  takeSignOutReason(): string | null {
    const why = sessionStorage.getItem(SIGNED_OUT);
    sessionStorage.removeItem(SIGNED_OUT);
    return why;
  },

  /** The session this tab's notebook runs in; null: none yet (the next run opens one). */
  session(): string | null {
    return sessionStorage.getItem(CURRENT);
  },

  setSession(session: string | null): void {
    if (session === null) sessionStorage.removeItem(CURRENT);
    else sessionStorage.setItem(CURRENT, session);
  },

  notebook(session: string | null): KeptNotebook | null {
    const kept = parse(sessionStorage.getItem(notebookKey(session)));
    if (!kept || typeof kept.notebook !== "object" || !Array.isArray((kept.notebook as Notebook | null)?.cells)) return null;
    return { notebook: kept.notebook as Notebook, lastSeq: typeof kept.lastSeq === "number" ? kept.lastSeq : null };
  },

  /** False when the tab's storage is full: the notebook then lives in the page alone. */
  save(session: string | null, kept: KeptNotebook): boolean {
    try {
      sessionStorage.setItem(notebookKey(session), JSON.stringify(kept));
      if (session !== null) sessionStorage.removeItem(notebookKey(null));
      return true;
    } catch {
      return false;
    }
  },
};

function parse(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
