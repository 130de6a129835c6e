// A session's files over HTTP: GET /v1/sessions/:id/files lists them with their sizes; GET, PUT
// and DELETE /v1/sessions/:id/files/*path read, write and delete one, its bytes as the body
// (application/octet-stream). Requests for a session another server holds are forwarded there.
import type { ServerResponse } from "node:http";
import type { Identity } from "../auth/identity.ts";
import { wasForwarded } from "../routing/forwarder.ts";
import { HeldElsewhere } from "../sessions/errors.ts";
import type { FileCommand, FileResult } from "../sessions/files.ts";
import type { SessionRegistry } from "../sessions/registry.ts";
import type { Session } from "../sessions/session.ts";
import { readBody } from "./body.ts";
import type { HttpExchange, ScopedRoute } from "./endpoint.ts";
import type { OwnerForwarding } from "./forwarding.ts";
import { sendError, sendJson } from "./responses.ts";
import { param } from "./routes.ts";

export interface FilesParts {
  registry: SessionRegistry;
  forwarding: OwnerForwarding;
  /** MAX_FILE_BYTES: the largest body a write takes. */
  maxFileBytes: number;
}

export function listFiles(parts: FilesParts): ScopedRoute["handle"] {
  return (exchange, caller) => onSession(parts, exchange, caller, async () => ({ kind: "list", path: "" }));
}

export function readFile(parts: FilesParts): ScopedRoute["handle"] {
  return (exchange, caller) => onSession(parts, exchange, caller, async (path) => ({ kind: "read", path }));
}

export function deleteFile(parts: FilesParts): ScopedRoute["handle"] {
  return (exchange, caller) => onSession(parts, exchange, caller, async (path) => ({ kind: "delete", path }));
}

export function writeFile(parts: FilesParts): ScopedRoute["handle"] {
  return async (exchange, caller) => {
    const { request, response } = exchange;
    // A body declared too large is refused before the session is woken or the body read.
    if (Number(request.headers["content-length"] ?? 0) > parts.maxFileBytes) return tooLarge(response, parts.maxFileBytes);
    await onSession(parts, exchange, caller, async (path) => {
      const bytes = await readBody(request, parts.maxFileBytes);
      if (bytes !== null) return { kind: "write", path, bytes };
      tooLarge(response, parts.maxFileBytes);
      return null;
    });
  };
}

/**
 * Finds the caller's session (forwarding the request, body unread, when another server holds
 * it), makes its command of the path (`command` may answer the request itself and give null),
 * and answers with what the session answers.
 */
async function onSession(parts: FilesParts, { request, response, params }: HttpExchange, caller: Identity, command: (path: string) => Promise<FileCommand | null>): Promise<void> {
  const path = decodedPath(params);
  if (path === null) return sendError(response, "bad_request", "the file path is not valid percent-encoded UTF-8");
  let session: Session;
  try {
    session = await parts.registry.find(param(params, "id"), caller, wasForwarded(request));
  } catch (error) {
    if (error instanceof HeldElsewhere) return parts.forwarding.http(request, response, error);
    throw error;
  }
  let wanted: FileCommand | null;
  try {
    wanted = await command(path);
  } catch (error) {
    // The client went away mid-body: there is no one to answer, and nothing failed here.
    if (request.destroyed) return;
    throw error;
  }
  if (wanted === null) return;
  const outcome = await session.files(wanted);
  if ("error" in outcome) return sendError(response, outcome.error.code, outcome.error.message);
  answer(response, outcome.result);
}

/** The path after /files/, decoded; "" for the listing's route, null when it does not decode. */
function decodedPath(params: HttpExchange["params"]): string | null {
  const raw = params.path;
  if (raw === undefined) return "";
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function answer(response: ServerResponse, result: FileResult): void {
  switch (result.kind) {
    case "done":
      response.writeHead(204).end();
      return;
    case "content":
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": result.bytes.byteLength });
      response.end(result.bytes);
      return;
    case "listing":
      return sendJson(response, 200, { files: result.files, truncated: result.truncated });
  }
}

/** Answered before the body is read to its end: the connection closes after, so that no client sends its next request behind the unread rest. */
function tooLarge(response: ServerResponse, limit: number): void {
  response.setHeader("connection", "close");
  sendError(response, "too_large", `the file is more than ${limit} bytes (MAX_FILE_BYTES)`);
}
