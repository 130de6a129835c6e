// What the CLI's commands share: how a command is declared, its usage errors, the server's URL
// and the token it connects with.

export const DEFAULT_URL = "http://127.0.0.1:8000";

export interface Command {
  /** The command's arguments, as they appear after its name in usage lines. */
  synopsis: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

/** A mistake in the command line: reported with a pointer to --help, exit status 2. */
export class UsageError extends Error {}

export function isParseArgsError(error: unknown): error is Error {
  return error instanceof TypeError && String((error as NodeJS.ErrnoException).code).startsWith("ERR_PARSE_ARGS_");
}

/** Whether a command-line argument is a server's URL rather than a name or a path. */
export function looksLikeUrl(text: string): boolean {
  return /^(?:https?|wss?):\/\//i.test(text);
}

export function serverUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a URL; expected one like ${DEFAULT_URL}`);
  }
  if (!["http:", "https:", "ws:", "wss:"].includes(url.protocol)) throw new UsageError(`"${text}" is not an http(s) or ws(s) URL`);
  return text;
}

const MISSING_TOKEN = `no token: pass --token TOKEN or set WASM_REPL_TOKEN.
A development server (\`npm start\` without JWT_SECRET) prints one on its \`token: ...\` line.`;

/** The --token given, else WASM_REPL_TOKEN. */
export function tokenFrom(option: string | undefined): string {
  const token = option ?? process.env.WASM_REPL_TOKEN;
  if (!token) throw new UsageError(MISSING_TOKEN);
  return token;
}
