// Jupyter messages on a WebSocket, both ways, in the two framings clients use:
//
// - "json", the legacy framing (what jupyter-server's gateway client and nbclient always use):
//   one JSON text frame per message with `channel`, `header`, `parent_header`, `metadata`,
//   `content`, `buffers`, and the header's `msg_id` and `msg_type` repeated at the top. A message
//   with binary buffers is a binary frame instead: a big-endian uint32 count, the parts' offsets,
//   the JSON, then the buffers.
// - "v1", the `v1.kernel.websocket.jupyter.org` subprotocol (@jupyterlab/services offers it): one
//   binary frame per message: a little-endian uint64 count of offsets, the offsets, then the
//   channel name and the header, parent_header, metadata and content as JSON, then the buffers.
//
// Decoding never throws: what cannot be read is a problem to answer, with the header when one
// could be read (so the client hears of it as a reply to its request). Every JSON part goes
// through the bounded parse (protocol/json.ts). Buffers are dropped: no comm runs here.
import { parseJson } from "../../protocol/json.ts";
import { CHANNELS, type Channel, type ClientMessage, type KernelMessage, type RequestHeader } from "./messages.ts";

export const JUPYTER_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org";

export type Framing = "json" | "v1";

/** What a client offered decides the framing: the v1 subprotocol when offered, else none (legacy JSON). */
export function subprotocolFor(offered: ReadonlySet<string>): string | false {
  return offered.has(JUPYTER_SUBPROTOCOL) ? JUPYTER_SUBPROTOCOL : false;
}

export function framingOf(subprotocol: string): Framing {
  return subprotocol === JUPYTER_SUBPROTOCOL ? "v1" : "json";
}

export type Decoded =
  | { ok: true; message: ClientMessage }
  /** `header` when the message had a readable one: the problem is answered as a reply to it. */
  | { ok: false; problem: string; header: RequestHeader | null; channel: Channel | null };

/** A message as it goes out: text for JSON, bytes for v1. */
export function encode(message: KernelMessage, framing: Framing): string | Buffer {
  if (framing === "json") {
    const { channel, header, parent_header, metadata, content } = message;
    return JSON.stringify({ channel, msg_id: header.msg_id, msg_type: header.msg_type, header, parent_header, metadata, content, buffers: [] });
  }
  const parts = [message.channel, JSON.stringify(message.header), JSON.stringify(message.parent_header), JSON.stringify(message.metadata), JSON.stringify(message.content)].map((part) => Buffer.from(part, "utf8"));
  // One offset where each part starts, and one where the last ends.
  const count = parts.length + 1;
  const head = Buffer.alloc(8 * (count + 1));
  head.writeBigUInt64LE(BigInt(count), 0);
  let offset = head.byteLength;
  for (let index = 0; index < count; index++) {
    head.writeBigUInt64LE(BigInt(offset), 8 * (index + 1));
    offset += parts[index]?.byteLength ?? 0;
  }
  return Buffer.concat([head, ...parts]);
}

/** A frame from a client. A text frame is JSON in either framing; a binary one is read in the connection's framing. */
export function decode(data: Buffer, isBinary: boolean, framing: Framing): Decoded {
  if (!isBinary) return fromJson(data, "the frame");
  return framing === "v1" ? fromV1(data) : fromLegacyBinary(data);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function text(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

function fromJson(bytes: Uint8Array, what: string): Decoded {
  const source = text(bytes);
  if (source === null) return refused(`${what} is not UTF-8 text`);
  const parsed = parseJson(source);
  if (!parsed.ok) return refused(`${what} ${parsed.message}`);
  if (!isObject(parsed.value)) return refused(`${what} must be a JSON object with header, parent_header, metadata and content`);
  const { channel, header, parent_header, metadata, content } = parsed.value;
  return checked(channel, header, parent_header, metadata, content);
}

/** The legacy framing's binary frames (a message with buffers): the JSON is the first part. */
function fromLegacyBinary(bytes: Buffer): Decoded {
  if (bytes.byteLength < 8) return refused("the binary frame is too short to hold its part count and offsets");
  const parts = bytes.readUInt32BE(0);
  if (parts < 1 || 4 * (parts + 1) > bytes.byteLength) return refused(`the binary frame claims ${parts} parts, which its ${bytes.byteLength} bytes cannot hold`);
  const start = bytes.readUInt32BE(4);
  const end = parts > 1 ? bytes.readUInt32BE(8) : bytes.byteLength;
  if (start < 4 * (parts + 1) || end < start || end > bytes.byteLength) return refused("the binary frame's offsets point outside it");
  return fromJson(bytes.subarray(start, end), "the binary frame's JSON part");
}

const V1_PARTS = ["channel", "header", "parent_header", "metadata", "content"] as const;
/** Offsets a v1 frame may carry: its five parts' and its end, and a few buffers'. */
const MAX_V1_OFFSETS = V1_PARTS.length + 1 + 64;

function fromV1(bytes: Buffer): Decoded {
  if (bytes.byteLength < 8) return refused("the frame is too short for the v1.kernel.websocket.jupyter.org framing (no offset count)");
  const count = bytes.readBigUInt64LE(0);
  if (count < V1_PARTS.length + 1 || count > MAX_V1_OFFSETS || 8 * (Number(count) + 1) > bytes.byteLength) {
    return refused(`the frame claims ${count} offsets; a v1.kernel.websocket.jupyter.org frame has ${V1_PARTS.length + 1} to ${MAX_V1_OFFSETS}, within its ${bytes.byteLength} bytes`);
  }
  const offsets: number[] = [];
  for (let index = 0; index < Number(count); index++) {
    const offset = bytes.readBigUInt64LE(8 * (index + 1));
    const previous = offsets.at(-1) ?? 8 * (Number(count) + 1);
    if (offset < previous || offset > bytes.byteLength) return refused(`offset ${index} of the frame (${offset}) is outside it or before the one before it`);
    offsets.push(Number(offset));
  }
  const values: unknown[] = [];
  for (let index = 0; index < V1_PARTS.length; index++) {
    const source = text(bytes.subarray(offsets[index], offsets[index + 1]));
    if (source === null) return refused(`the frame's ${V1_PARTS[index]} is not UTF-8 text`);
    if (index === 0) {
      values.push(source);
      continue;
    }
    const parsed = parseJson(source);
    if (!parsed.ok) return refused(`the frame's ${V1_PARTS[index]} ${parsed.message}`);
    values.push(parsed.value);
  }
  const [channel, header, parent_header, metadata, content] = values;
  return checked(channel, header, parent_header, metadata, content);
}

/** The message's parts checked for shape; a missing channel is left to the message's type (messages.ts channelOf). */
function checked(channel: unknown, header: unknown, parentHeader: unknown, metadata: unknown, content: unknown): Decoded {
  if (!isObject(header)) return refused("the message has no header object");
  const { msg_id, msg_type } = header;
  if (typeof msg_type !== "string" || msg_type === "") return refused("the header's msg_type must be a non-empty string");
  if (typeof msg_id !== "string" || msg_id === "") return refused("the header's msg_id must be a non-empty string");
  const readable = header as RequestHeader;
  const client = channel === undefined || channel === null || channel === "" ? null : channel;
  if (client !== null && (typeof client !== "string" || !CLIENT_CHANNELS.includes(client as Channel))) {
    return { ok: false, problem: `channel must be "shell", "control" or "stdin"; got ${JSON.stringify(String(client)).slice(0, 40)}`, header: readable, channel: null };
  }
  const at = client as Channel | null;
  for (const [name, value] of [["parent_header", parentHeader], ["metadata", metadata], ["content", content]] as const) {
    if (value !== undefined && value !== null && !isObject(value)) return { ok: false, problem: `${name} must be a JSON object`, header: readable, channel: at };
  }
  const object = (value: unknown) => (isObject(value) ? value : {});
  return { ok: true, message: { channel: at, header: readable, parent_header: object(parentHeader), metadata: object(metadata), content: object(content) } };
}

/** A client sends on these; iopub is the kernel's alone. */
const CLIENT_CHANNELS: readonly Channel[] = CHANNELS.filter((channel) => channel !== "iopub");

function refused(problem: string): Decoded {
  return { ok: false, problem, header: null, channel: null };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
