// A session's files as every door sees them: paths relative to the interpreter's working
// directory (an absolute path inside it is taken too; `.`, `..` and anything outside it are
// refused), each file at most MAX_FILE_BYTES, and the sandbox's reasons turned into error codes.
// The same for a session's interpreter and for the sandbox of a stateless request.
import { FILE_CAPS, WORKING_DIRECTORY } from "../sandbox/ipc.ts";
import type { FileAnswer, FileEntry, FileFailure, FileRequest } from "../sandbox/sandbox.ts";
import type { Refusal } from "./cell.ts";

/** What a door asks of a session's files; a directory's path is "" for the working directory itself. */
export type FileCommand =
  | { kind: "write"; path: string; bytes: Uint8Array }
  | { kind: "read"; path: string }
  | { kind: "delete"; path: string }
  | { kind: "mkdir"; path: string }
  | { kind: "list"; path: string };

export type FileResult = { kind: "done" } | { kind: "content"; bytes: Uint8Array } | { kind: "listing"; files: FileEntry[]; truncated: boolean };

export type FileOutcome = { result: FileResult } | { error: Refusal };

/** Where file requests go: a session's interpreter, or a sandbox of its own. */
export interface FileTarget {
  file(request: FileRequest, body?: Uint8Array): Promise<FileAnswer>;
}

/**
 * `raw` as a path relative to the working directory, without empty segments; or why it names
 * nothing there. "" (the directory itself) only when `directory`.
 */
export function filePath(raw: string, directory = false): { path: string } | { problem: string } {
  let rest = raw;
  if (rest.startsWith("/")) {
    if (rest !== WORKING_DIRECTORY && !rest.startsWith(`${WORKING_DIRECTORY}/`)) return { problem: `${quoted(raw)} is outside the session's working directory ${WORKING_DIRECTORY}; give a path relative to it` };
    rest = rest.slice(WORKING_DIRECTORY.length);
  }
  const segments = rest.split("/").filter((segment) => segment !== "");
  if (segments.some((segment) => segment === "." || segment === "..")) return { problem: `${quoted(raw)} has a . or .. segment; give a path inside the working directory without them` };
  if (raw.includes("\0")) return { problem: `${quoted(raw)} holds a NUL character` };
  const path = segments.join("/");
  if (path === "" && !directory) return { problem: `${quoted(raw)} names no file; give a path such as data/input.csv` };
  if (path.length > FILE_CAPS.pathChars) return { problem: `the path is ${path.length} characters, more than ${FILE_CAPS.pathChars}` };
  return { path };
}

/**
 * Carries out a command on `target`'s working directory: its answer, or the refusal a client
 * hears (bad_request, file_not_found, too_large, quota_exceeded). A sandbox that fails throws.
 */
export async function performFile(target: FileTarget, command: FileCommand, maxFileBytes: number): Promise<FileOutcome> {
  const checked = filePath(command.path, command.kind === "list" || command.kind === "mkdir");
  if ("problem" in checked) return refused("bad_request", checked.problem);
  const { path } = checked;
  if (command.kind === "write" && command.bytes.byteLength > maxFileBytes) {
    return refused("too_large", `the file is ${command.bytes.byteLength} bytes, more than MAX_FILE_BYTES (${maxFileBytes})`);
  }
  const { reply, body } = await target.file(request(command, path, maxFileBytes), command.kind === "write" ? command.bytes : undefined);
  switch (reply.kind) {
    case "failed":
      return refused(...REFUSALS[reply.failure](reply.message));
    case "content":
      return { result: { kind: "content", bytes: body ?? new Uint8Array() } };
    default:
      return { result: reply };
  }
}

function request(command: FileCommand, path: string, maxFileBytes: number): FileRequest {
  switch (command.kind) {
    case "read":
      return { kind: "read", path, max_bytes: maxFileBytes };
    case "write":
    case "delete":
    case "mkdir":
    case "list":
      return { kind: command.kind, path };
  }
}

/** How each of the sandbox's reasons reaches a client, with the setting behind it. */
const REFUSALS: Record<FileFailure, (message: string) => [Refusal["code"], string]> = {
  missing: (message) => ["file_not_found", message],
  not_a_file: (message) => ["bad_request", message],
  too_large: (message) => ["too_large", `${message} (MAX_FILE_BYTES)`],
  full: (message) => ["quota_exceeded", `the session is full: ${message} (SESSION_MEMORY_MB); delete files, or free memory`],
};

function refused(code: Refusal["code"], message: string): FileOutcome {
  return { error: { code, message } };
}

function quoted(path: string): string {
  return JSON.stringify(path.length > 60 ? `${path.slice(0, 60)}...` : path);
}
