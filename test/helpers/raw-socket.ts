// A bare WebSocket client for tests that must send what the SDK never would, and read every frame.
import WebSocket from "ws";
import { PROTOCOL, type ServerFrame, type SessionFrame } from "../../protocol/index.ts";

export class RawSocket {
  readonly frames: ServerFrame[] = [];
  welcome!: SessionFrame;
  private waiters: { predicate: (frame: ServerFrame) => boolean; resolve: (frame: ServerFrame) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((waiter) => !(waiter.predicate(frame) && (waiter.resolve(frame), true)));
    });
    this.closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Connects to `path` (e.g. /v1/sessions) and waits for the session frame. */
  static async connect(baseUrl: string, path: string, token: string): Promise<RawSocket> {
    const socket = new WebSocket(baseUrl.replace(/^http/, "ws") + path, [PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
    const raw = new RawSocket(socket);
    raw.welcome = await raw.next("session");
    return raw;
  }

  /** The next frame (already received or still to come) that matches. */
  next<T extends ServerFrame["type"]>(predicate: ((frame: ServerFrame) => boolean) | T, timeoutMs = 10_000): Promise<Extract<ServerFrame, { type: T }>> {
    const test = typeof predicate === "string" ? (frame: ServerFrame) => frame.type === predicate : predicate;
    const seen = this.frames.find(test);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen as Extract<ServerFrame, { type: T }>);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        predicate: test,
        resolve: (frame) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(frame), 1);
          resolve(frame as Extract<ServerFrame, { type: T }>);
        },
      });
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Ends the session and waits for the server to close the socket. */
  async end(): Promise<void> {
    this.send({ type: "close" });
    await this.closed;
  }
}
