// Jupyter's messages (messaging protocol 5.3) as the door handles them: the channels, headers and
// messages, and builders for the kernel's side. Framing on the wire is framing.ts's.
import { randomUUID } from "node:crypto";
import { PROTOCOL_VERSION } from "./kernelspec.ts";

export const CHANNELS = ["shell", "control", "iopub", "stdin"] as const;
export type Channel = (typeof CHANNELS)[number];

/** The header of a message the kernel sends. */
export interface Header {
  msg_id: string;
  msg_type: string;
  username: string;
  session: string;
  date: string;
  version: string;
}

/**
 * A request's header as its client sent it: msg_id and msg_type checked, everything else kept as
 * it came, since it goes back unchanged as the parent_header of every answer (clients match on it;
 * its `date` may be a string or, from nbclient's gateway client, a number).
 */
export type RequestHeader = Record<string, unknown> & { msg_id: string; msg_type: string };

/** A message from the kernel. */
export interface KernelMessage {
  channel: Channel;
  header: Header;
  /** The request it answers (its header, as it came), or {} for none. */
  parent_header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** A message from a client, its shape checked (framing.ts); its content is checked by requests.ts. */
export interface ClientMessage {
  /** Null when the client did not say (nbclient's gateway client never does). */
  channel: Channel | null;
  header: RequestHeader;
  parent_header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** Who the kernel's messages are from: the same session and user in every header. */
export interface Sender {
  session: string;
  username: string;
}

export function kernelMessage(
  sender: Sender,
  channel: Channel,
  msgType: string,
  content: Record<string, unknown>,
  parent: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): KernelMessage {
  const header: Header = { msg_id: randomUUID(), msg_type: msgType, username: sender.username, session: sender.session, date: new Date().toISOString(), version: PROTOCOL_VERSION };
  return { channel, header, parent_header: parent, metadata, content };
}

/** The type of the reply to a request: `complete_request` is answered by `complete_reply`. */
export function replyType(requestType: string): string {
  return `${requestType.replace(/_request$/, "")}_reply`;
}

/** The channel a client's message came on: as it said, or when it did not, by its type as Jupyter defines them. */
export function channelFor(said: Channel | null, msgType: string): Channel {
  if (said !== null) return said;
  switch (msgType) {
    case "shutdown_request":
    case "interrupt_request":
    case "debug_request":
      return "control";
    case "input_reply":
      return "stdin";
    default:
      return "shell";
  }
}

/** What an `error` on iopub, and a reply that failed, carry: ename is a Python exception's name or a wasm-repl error code. */
export interface ErrorFields {
  ename: string;
  evalue: string;
  traceback: string[];
}

export function errorFields(ename: string, evalue: string, traceback: string[] = [`${ename}: ${evalue}`]): ErrorFields {
  return { ename, evalue, traceback };
}

/** The content of a reply that failed. */
export function errorReply(fields: ErrorFields): Record<string, unknown> {
  return { status: "error", ...fields };
}
