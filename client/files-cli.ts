// `wasm-repl files`: the files of a session's working directory from the command line, over the
// SDK's SessionFiles (no WebSocket is opened).
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_URL, looksLikeUrl, serverUrl, tokenFrom, UsageError } from "./cli-common.ts";
import { SessionFiles } from "./files.ts";

export const FILES_SYNOPSIS = "list|upload|download|delete [URL] SESSION [PATHS] [--token TOKEN]";

interface Action {
  /** Its arguments after the action's name. */
  synopsis: string;
  summary: string;
  /** How many paths it takes after SESSION: at least, at most. */
  paths: [number, number];
  run(files: SessionFiles, paths: string[]): Promise<void>;
}

const ACTIONS: Record<string, Action> = {
  list: {
    synopsis: "[URL] SESSION",
    summary: "the files, with their sizes in bytes",
    paths: [0, 0],
    async run(files) {
      const { files: listed, truncated } = await files.list();
      for (const { path, size } of listed) process.stdout.write(`${String(size).padStart(12)}  ${path}\n`);
      if (truncated) process.stderr.write("note: more files than a listing holds; the rest are not shown\n");
    },
  },
  upload: {
    synopsis: "[URL] SESSION LOCAL [PATH]",
    summary: "copies the local file LOCAL to PATH (default: LOCAL's name)",
    paths: [1, 2],
    async run(files, [local, path]) {
      const bytes = await readFile(local!).catch((error: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read ${local}: ${error.code ?? error.message}`);
      });
      await files.upload(path ?? basename(local!), bytes);
    },
  },
  download: {
    synopsis: "[URL] SESSION PATH [LOCAL]",
    summary: "copies PATH to the local file LOCAL (default: PATH's name; -: stdout)",
    paths: [1, 2],
    async run(files, [path, local]) {
      const bytes = await files.download(path!);
      if (local === "-") process.stdout.write(bytes);
      else await writeFile(local ?? basename(path!), bytes);
    },
  },
  delete: {
    synopsis: "[URL] SESSION PATH",
    summary: "deletes PATH",
    paths: [1, 1],
    async run(files, [path]) {
      await files.delete(path!);
    },
  },
};

const USAGE = `usage: wasm-repl files ACTION [URL] SESSION ... [--token TOKEN]

The files of a session's working directory (/home/pyodide), where its Python opens them.

${Object.entries(ACTIONS)
  .map(([name, { synopsis, summary }]) => `  ${name.padEnd(9)}${synopsis.padEnd(28)}${summary}\n`)
  .join("")}
  URL            the server (default ${DEFAULT_URL})
  --token TOKEN  the JWT to connect with (default: the WASM_REPL_TOKEN environment variable)
  -h, --help     show this help
`;

export async function filesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { token: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [name, ...rest] = positionals;
  const action = name === undefined ? undefined : ACTIONS[name];
  if (!action) throw new UsageError(`expected an action, one of ${Object.keys(ACTIONS).join(", ")}; got ${name === undefined ? "none" : JSON.stringify(name)}`);
  const url = serverUrl(rest[0] !== undefined && looksLikeUrl(rest[0]) ? rest.shift()! : DEFAULT_URL);
  const [session, ...paths] = rest;
  const [least, most] = action.paths;
  if (session === undefined || paths.length < least || paths.length > most) throw new UsageError(`expected: wasm-repl files ${name} ${action.synopsis}`);
  const token = tokenFrom(values.token);
  await action.run(new SessionFiles(url, session, () => token), paths);
  return 0;
}
