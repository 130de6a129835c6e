// Payloads that arrive in chunks over one protocol v1 connection (add_context or add_history
// with `more`), joined until their last chunk and then handed to the session whole. What an
// unfinished upload holds counts against its session's buffer budget.
import { constants } from "node:buffer";
import { jsonDepthProblem, type AddContextFrame, type AddHistoryFrame } from "../../protocol/index.ts";
import { guard, type Reporter } from "../boundary.ts";
import type { ContextKind } from "../sandbox/ipc.ts";
import type { Refusal } from "../sessions/cell.ts";
import type { Session } from "../sessions/session.ts";

interface Upload {
  /** The first chunk's id: told when the upload is dropped for want of chunks. */
  id: string;
  /** performance.now() when its first chunk arrived. */
  arrivedAt: number;
  index: number | null;
  json: boolean;
  parts: string[];
  length: number;
  /** Drops the upload when no chunk follows within the idle timeout (an abandoned upload). */
  idle?: NodeJS.Timeout;
}

export interface UploadSettings extends Reporter {
  /** UPLOAD_IDLE_TIMEOUT in ms. */
  idleMs: number;
}

export class Uploads {
  private readonly open = new Map<ContextKind, Upload>();

  constructor(
    private readonly session: Session,
    private readonly settings: UploadSettings,
  ) {}

  /** A chunk, or a whole payload: handed to the session once complete. */
  receive(frame: AddContextFrame | AddHistoryFrame, receivedAt: number): void {
    const { session } = this;
    const target: ContextKind = frame.type === "add_context" ? "context" : "history";
    const id = frame.id ?? session.nextId("add_context");
    // A frame with neither `more` nor `offset` is a whole payload; an unfinished upload (its
    // client gave up on it) must not swallow it.
    if (!frame.more && frame.offset === undefined) {
      this.drop(target);
      const text = typeof frame.payload === "string" ? frame.payload : JSON.stringify(frame.payload);
      const json = frame.json === true || typeof frame.payload !== "string";
      return session.addContext(id, { target, index: frame.index ?? null, text, json, arrivedAt: receivedAt });
    }
    if (typeof frame.payload !== "string") {
      this.drop(target);
      return this.fail(id, { code: "bad_request", message: `${frame.type}: a chunk must be a string; the upload in progress was dropped` });
    }
    let current = this.open.get(target);
    if (!current) {
      current = { id, arrivedAt: receivedAt, index: frame.index ?? null, json: frame.json === true, parts: [], length: 0 };
      this.open.set(target, current);
    }
    if (frame.offset !== undefined && frame.offset !== current.length) {
      const expected = current.length;
      this.drop(target);
      return this.fail(id, { code: "bad_request", message: `${frame.type}: a chunk at offset ${frame.offset} arrived where ${expected} was expected (a chunk was lost); the upload was dropped, send it again` });
    }
    const refusal = session.buffers.reserve("upload", frame.payload.length, `${frame.type}: the upload`);
    if (refusal) {
      this.drop(target);
      return this.fail(id, { code: refusal.code, message: `${refusal.message}; the upload was dropped` });
    }
    current.parts.push(frame.payload);
    current.length += frame.payload.length;
    const limit = uploadLimit(session.limits.memory_mb);
    if (current.length > limit.characters) {
      this.drop(target);
      return this.fail(id, { code: "too_large", message: `${frame.type}: the payload is over ${limit.characters} characters, ${limit.name}; the upload was dropped` });
    }
    if (frame.more) return this.awaitChunk(target, current);
    this.drop(target);
    const text = current.parts.join("");
    const deep = current.json && jsonDepthProblem(text);
    if (deep) return this.fail(id, { code: "bad_request", message: `${frame.type}: the payload is JSON text that ${deep}; the upload was dropped` });
    session.addContext(id, { target, index: current.index, text, json: current.json, arrivedAt: current.arrivedAt });
  }

  /** The connection is gone (or its session ended): unfinished uploads and what they held go. */
  close(): void {
    for (const target of [...this.open.keys()]) this.drop(target);
  }

  /** Keeps an unfinished upload for its next chunk, UPLOAD_IDLE_TIMEOUT at most: its client may be gone for good. */
  private awaitChunk(target: ContextKind, upload: Upload): void {
    clearTimeout(upload.idle);
    const expire = () => {
      this.drop(target);
      const { session } = this;
      this.settings.log.info("upload_dropped", { session_id: session.id, tenant: session.owner.tenant, kind: target, chars: upload.length });
      const seconds = this.settings.idleMs / 1000;
      this.fail(upload.id, { code: "bad_request", message: `the ${target} upload was dropped after ${seconds} s without a chunk (UPLOAD_IDLE_TIMEOUT); send it again from offset 0` });
    };
    upload.idle = setTimeout(guard(this.settings, "timer", expire), this.settings.idleMs);
    upload.idle.unref();
  }

  /** Forgets the upload in progress, if any, and the bytes it held. */
  private drop(target: ContextKind): void {
    const upload = this.open.get(target);
    if (!upload) return;
    clearTimeout(upload.idle);
    this.open.delete(target);
    this.session.buffers.release("upload", upload.length);
  }

  /** The session records the failure, so that a client that reconnects hears of it too. */
  private fail(id: string, refusal: Refusal): void {
    this.session.reject(id, refusal);
  }
}

/**
 * The most characters an upload may join to: the session's memory (SESSION_MEMORY_MB, in
 * characters), but never past the longest string V8 can make, where joining would throw.
 */
function uploadLimit(memoryMb: number): { characters: number; name: string } {
  const memory = memoryMb * 1024 * 1024;
  return memory < constants.MAX_STRING_LENGTH
    ? { characters: memory, name: "the session's memory limit (SESSION_MEMORY_MB)" }
    : { characters: constants.MAX_STRING_LENGTH, name: "the longest string the server can hold" };
}
