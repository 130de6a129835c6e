// POST /execute's files: those a request brings (`files: {path: base64}`), written into the
// working directory before its code runs, and those its code leaves in outputs/ there, read back
// after it into the answer, bounded by MAX_FILE_BYTES in all (what does not fit is named in
// `files_omitted`). The same for a sandbox of the request's own and for a persistent session.
import type { FileCommand, FileOutcome } from "../sessions/files.ts";
import type { Refusal } from "../sessions/cell.ts";

/** The folder of the working directory whose files come back with the answer. */
const OUTPUTS = "outputs";

/** Files one request may bring (each one is a round trip to its sandbox). */
const MAX_INPUT_FILES = 1000;

/** A session's or a sandbox's file operations, as sessions/files.ts answers them. */
export type PerformFile = (command: FileCommand) => Promise<FileOutcome>;

export interface Outputs {
  /** Path (relative to the working directory, as `outputs/...`) to the file's bytes in base64. */
  files: Record<string, string>;
  /** Files of outputs/ left out (past MAX_FILE_BYTES in all); "outputs/..." last when there were more than a listing names. */
  omitted: string[];
}

export const NO_OUTPUTS: Outputs = { files: {}, omitted: [] };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The request's `files` as paths and bytes, or what is wrong with them (paths are checked where they are written). */
export function inputFiles(value: Record<string, unknown>): { files: [string, Uint8Array][] } | { problem: string } {
  const entries = Object.entries(value);
  if (entries.length > MAX_INPUT_FILES) return { problem: `files holds ${entries.length} files, more than ${MAX_INPUT_FILES}` };
  const files: [string, Uint8Array][] = [];
  for (const [path, content] of entries) {
    if (typeof content !== "string" || !BASE64.test(content)) return { problem: `files: ${JSON.stringify(path.slice(0, 60))} must be the file's bytes in base64` };
    files.push([path, new Uint8Array(Buffer.from(content, "base64"))]);
  }
  return { files };
}

/** Writes the request's files and makes outputs/; the first refusal stops it (its message names the file). */
export async function writeInputs(perform: PerformFile, files: [string, Uint8Array][]): Promise<Refusal | null> {
  for (const [path, bytes] of files) {
    const outcome = await perform({ kind: "write", path, bytes });
    if ("error" in outcome) return { code: outcome.error.code, message: `files: ${JSON.stringify(path.slice(0, 60))}: ${outcome.error.message}` };
  }
  const made = await perform({ kind: "mkdir", path: OUTPUTS });
  return "error" in made ? { code: made.error.code, message: `${OUTPUTS}/ could not be made: ${made.error.message}` } : null;
}

/** The files under outputs/, in name order, as many as `budget` bytes take. */
export async function readOutputs(perform: PerformFile, budget: number): Promise<Outputs> {
  const listed = await perform({ kind: "list", path: OUTPUTS });
  if ("error" in listed || listed.result.kind !== "listing") return NO_OUTPUTS;
  const outputs: Outputs = { files: {}, omitted: [] };
  let left = budget;
  for (const { path, size } of listed.result.files) {
    const read = size <= left ? await perform({ kind: "read", path }) : null;
    if (read && "result" in read && read.result.kind === "content" && read.result.bytes.byteLength <= left) {
      outputs.files[path] = Buffer.from(read.result.bytes).toString("base64");
      left -= read.result.bytes.byteLength;
    } else outputs.omitted.push(path);
  }
  // More files than a listing holds: the rest are not even named.
  if (listed.result.truncated) outputs.omitted.push(`${OUTPUTS}/...`);
  return outputs;
}
