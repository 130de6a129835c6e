// A small Jupyter client for the door's tests: REST calls in the Kernel Gateway's shapes, and a
// kernel's channels WebSocket in either framing, with a request helper that waits, as Jupyter's
// clients do, for the reply and for the `status: idle` that closes the request on iopub.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { deserialize, serialize } from "@jupyterlab/services/lib/kernel/serialize.js";
import { JUPYTER_SUBPROTOCOL } from "../../server/jupyter/framing.ts";

export interface Message {
  channel: string;
  header: { msg_id: string; msg_type: string; session: string; [key: string]: unknown };
  parent_header: { msg_id?: string; [key: string]: unknown };
  metadata: Record<string, unknown>;
  content: Record<string, any>;
}

export interface Exchange {
  reply: Message;
  /** What iopub carried for the request, from its `status: busy` to its `status: idle`, both included. */
  iopub: Message[];
}

const WAIT_MS = 60_000;

/** A REST call with the gateway client's header; the JSON body (or null) and the status. */
export async function rest(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `token ${token}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

export interface ChannelOptions {
  /** Offer the v1.kernel.websocket.jupyter.org subprotocol (binary framing). */
  v1?: boolean;
  /** How the token travels: the Authorization header (default) or ?token= in the URL. */
  tokenIn?: "header" | "query";
}

export class KernelChannels {
  readonly received: Message[] = [];
  readonly clientSession = randomUUID();
  private waiters: Array<{ test: (message: Message) => boolean; resolve: (message: Message) => void }> = [];

  private constructor(
    readonly socket: WebSocket,
    readonly v1: boolean,
  ) {
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      const message = (isBinary ? deserialize(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer, JUPYTER_SUBPROTOCOL) : JSON.parse(data.toString())) as Message;
      this.received.push(message);
      const waiter = this.waiters.findIndex((candidate) => candidate.test(message));
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0]!.resolve(message);
    });
  }

  static open(baseUrl: string, kernelId: string, token: string, options: ChannelOptions = {}): Promise<KernelChannels> {
    const query = options.tokenIn === "query" ? `?session_id=s&token=${token}` : "";
    const url = `${baseUrl.replace(/^http/, "ws")}/api/kernels/${kernelId}/channels${query}`;
    const socket = new WebSocket(url, options.v1 ? [JUPYTER_SUBPROTOCOL] : [], options.tokenIn === "query" ? {} : { headers: { authorization: `token ${token}` } });
    return new Promise((resolve, reject) => {
      socket.once("open", () => resolve(new KernelChannels(socket, socket.protocol === JUPYTER_SUBPROTOCOL)));
      socket.once("unexpected-response", (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      socket.once("error", reject);
    });
  }

  /** Sends a message; returns its header. `channel: null` leaves the field out, as nbclient's gateway client does. */
  send(msgType: string, content: Record<string, unknown>, channel: string | null = "shell"): Message["header"] {
    const header = { msg_id: randomUUID(), msg_type: msgType, session: this.clientSession, username: "test", date: new Date().toISOString(), version: "5.3" };
    const message = { ...(channel !== null && { channel }), header, parent_header: {}, metadata: {}, content, buffers: [] };
    if (this.v1) this.socket.send(Buffer.from(serialize({ ...message, channel: channel ?? "shell" } as never, JUPYTER_SUBPROTOCOL) as ArrayBuffer));
    else this.socket.send(JSON.stringify({ ...message, msg_id: header.msg_id, msg_type: msgType }));
    return header;
  }

  /** The first message received (or to come) that passes `test`. */
  next(test: (message: Message) => boolean, ms = WAIT_MS): Promise<Message> {
    const seen = this.received.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such message within ${ms} ms; received ${JSON.stringify(this.received.map((m) => [m.channel, m.header.msg_type, m.parent_header.msg_id]))}`)), ms);
      this.waiters.push({ test, resolve: (message) => (clearTimeout(timer), resolve(message)) });
    });
  }

  /** Sends a request and waits for its reply and its idle. */
  async request(msgType: string, content: Record<string, unknown>, channel: string | null = "shell"): Promise<Exchange> {
    const header = this.send(msgType, content, channel);
    return this.exchangeOf(header.msg_id, msgType.replace(/_request$/, "_reply"));
  }

  /** The reply (of `replyType`) and iopub traffic of the request `msgId`, once it is idle. */
  async exchangeOf(msgId: string, replyType: string | null): Promise<Exchange> {
    const ofRequest = (message: Message) => message.parent_header.msg_id === msgId;
    await this.next((message) => ofRequest(message) && message.channel === "iopub" && message.header.msg_type === "status" && message.content.execution_state === "idle");
    const reply = replyType === null ? (null as unknown as Message) : await this.next((message) => ofRequest(message) && message.channel !== "iopub" && message.header.msg_type === replyType);
    return { reply, iopub: this.received.filter((message) => ofRequest(message) && message.channel === "iopub") };
  }

  async execute(code: string, extra: Record<string, unknown> = {}): Promise<Exchange> {
    return this.request("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra });
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }

  /** Resolves with the close code once the server closes the socket. */
  closed(): Promise<number> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
    return new Promise((resolve) => this.socket.once("close", (code) => resolve(code)));
  }
}

/** The types of iopub messages, in order, statuses as `status:busy`/`status:idle`. */
export function shape(iopub: Message[]): string[] {
  return iopub.map((message) => (message.header.msg_type === "status" ? `status:${message.content.execution_state}` : message.header.msg_type));
}
