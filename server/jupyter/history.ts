// history_request answered from the session's inputs: the code of every cell it ran, by execution
// count. A session is one history session (number 1); outputs are not kept, so a request for
// them gets null in their place.
import type { Input } from "../sessions/session.ts";
import type { HistoryQuery } from "./requests.ts";

/** The history session every entry belongs to (IPython numbers its sessions from 1). */
export const HISTORY_SESSION = 1;

export type HistoryEntry = [session: number, line: number, input: string | [input: string, output: null]];

export function historyEntries(inputs: readonly Input[], query: HistoryQuery, output: boolean): HistoryEntry[] {
  const entry = ({ execution_count, code }: Input): HistoryEntry => [HISTORY_SESSION, execution_count, output ? [code, null] : code];
  switch (query.access) {
    case "tail":
      return query.n === 0 ? [] : inputs.slice(-query.n).map(entry);
    case "range": {
      // 0 is the current session; a negative number counts back to earlier ones, which this kernel has not had.
      if (query.session !== 0 && query.session !== HISTORY_SESSION) return [];
      const { start, stop } = query;
      return inputs.filter(({ execution_count: line }) => line >= start && (stop === null || line < stop)).map(entry);
    }
    case "search": {
      const pattern = globTokens(query.pattern);
      let found = inputs.filter(({ code }) => globMatches(pattern, code));
      // Each text once, at its latest run.
      if (query.unique) found = found.filter((input, index) => !found.slice(index + 1).some((later) => later.code === input.code));
      if (query.n !== null) found = query.n === 0 ? [] : found.slice(-query.n);
      return found.map(entry);
    }
  }
}

/** A glob as IPython's history search reads it (SQLite's GLOB): `*` any text, `?` one character, `[...]` one of a set (`[^...]`: not of it). */
type GlobToken = { kind: "any" } | { kind: "one"; matches: (char: string) => boolean };

export function globTokens(glob: string): GlobToken[] {
  const chars = Array.from(glob);
  const tokens: GlobToken[] = [];
  for (let index = 0; index < chars.length; index++) {
    const char = chars[index]!;
    if (char === "*") {
      if (tokens.at(-1)?.kind !== "any") tokens.push({ kind: "any" });
    } else if (char === "?") {
      tokens.push({ kind: "one", matches: () => true });
    } else if (char === "[") {
      const negated = chars[index + 1] === "^";
      const first = index + (negated ? 2 : 1);
      // The first member may be "]" itself.
      const close = chars.indexOf("]", first + 1);
      if (close === -1) {
        tokens.push({ kind: "one", matches: (other) => other === char });
        continue;
      }
      const members = chars.slice(first, close);
      const ranges: Array<[string, string]> = [];
      for (let at = 0; at < members.length; at++) {
        if (members[at + 1] === "-" && at + 2 < members.length) {
          ranges.push([members[at]!, members[at + 2]!]);
          at += 2;
        } else ranges.push([members[at]!, members[at]!]);
      }
      tokens.push({ kind: "one", matches: (other) => ranges.some(([low, high]) => other >= low && other <= high) !== negated });
      index = close;
    } else {
      tokens.push({ kind: "one", matches: (other) => other === char });
    }
  }
  return tokens;
}

/**
 * Whether the whole text matches. Backtracks only to the last `*` seen, so it takes at most
 * (text length) x (pattern length) steps, whatever the pattern: no pattern can stall the server.
 */
export function globMatches(tokens: readonly GlobToken[], text: string): boolean {
  const chars = Array.from(text);
  let token = 0;
  let at = 0;
  let star = -1;
  let resumeAt = 0;
  while (at < chars.length) {
    const current = tokens[token];
    if (current?.kind === "one" && current.matches(chars[at]!)) {
      token++;
      at++;
    } else if (current?.kind === "any") {
      star = token++;
      resumeAt = at;
    } else if (star !== -1) {
      token = star + 1;
      at = ++resumeAt;
    } else return false;
  }
  while (tokens[token]?.kind === "any") token++;
  return token === tokens.length;
}
