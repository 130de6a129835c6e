// The page's WebSocket to one session (protocol v1). The token rides in the subprotocol list, as
// browsers cannot set headers. Every frame with a seq moves lastSeq on; when the socket drops, it
// attaches again with ?since=lastSeq, so no frame is missed while the session's replay buffer
// holds it. A browser is not told why a handshake was refused, so before it tries again it asks
// `whyGone` (the REST routes say) whether the session is still there to attach to.
import { BEARER_SUBPROTOCOL_PREFIX, CLOSE, PROTOCOL, type ClientFrame, type ServerFrame, type SessionFrame } from "../../protocol/frames.ts";

interface ConnectionEvents {
  welcome(frame: SessionFrame): void;
  /** Every frame after the welcome, lastSeq already moved on. */
  frame(frame: ServerFrame): void;
  /** Open, or trying to be again. */
  state(state: "open" | "reconnecting"): void;
  /** Gone for good: the session ended, the token no longer works (`signIn`), or it cannot be reached. */
  closed(why: string, signIn: boolean): void;
}

/** Why a session cannot be attached to (it ended, it is not found, the token is refused); null when it can. */
export type Gone = { why: string; signIn: boolean } | null;

/** Waits between attempts, in ms; after the last the connection gives up. */
const RETRIES = [250, 500, 1000, 2000, 4000, 4000, 4000, 4000];

export class SessionConnection {
  private socket: WebSocket | null = null;
  private readonly outbox: string[] = [];
  private attempt = 0;
  private closedByUs = false;

  constructor(
    private readonly token: string,
    readonly session: string,
    /** The newest seq seen: null attaches without replay (the history starts now for this page). */
    public lastSeq: number | null,
    private readonly events: ConnectionEvents,
    private readonly whyGone: () => Promise<Gone>,
  ) {
    this.connect();
  }

  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Sent now, or as soon as the socket is open again. */
  send(frame: ClientFrame): void {
    const text = JSON.stringify(frame);
    if (this.open) this.socket!.send(text);
    else this.outbox.push(text);
  }

  /** Closes this page's socket; the session lives on. */
  close(): void {
    this.closedByUs = true;
    this.socket?.close(CLOSE.normal);
  }

  private connect(): void {
    const since = this.lastSeq === null ? "" : `?since=${this.lastSeq}`;
    const url = new URL(`/v1/sessions/${this.session}${since}`, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url, [PROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${this.token}`]);
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.events.state("open");
      for (const text of this.outbox.splice(0)) socket.send(text);
    };
    socket.onmessage = (message) => this.receive(JSON.parse(String(message.data)) as ServerFrame);
    socket.onclose = (event) => void this.closed(event.code, opened);
  }

  private receive(frame: ServerFrame): void {
    if (frame.type === "session") {
      // A session woken on another server starts its history again, behind what this page saw.
      if (this.lastSeq === null || frame.last_seq < this.lastSeq) this.lastSeq = frame.last_seq;
      this.events.welcome(frame);
      return;
    }
    if ("seq" in frame && typeof frame.seq === "number") this.lastSeq = Math.max(this.lastSeq ?? 0, frame.seq);
    this.events.frame(frame);
  }

  private async closed(code: number, opened: boolean): Promise<void> {
    if (this.closedByUs) return;
    if (code === CLOSE.tokenExpired) return this.events.closed("the token expired: sign in again", true);
    if (code === CLOSE.normal) return this.events.closed("the session ended", false);
    if (!opened) {
      const gone = await this.whyGone().catch(() => null);
      if (gone) return this.events.closed(gone.why, gone.signIn);
    }
    const wait = RETRIES[this.attempt++];
    if (wait === undefined) return this.events.closed("the server cannot be reached; reload the page to try again", false);
    this.events.state("reconnecting");
    setTimeout(() => this.closedByUs || this.connect(), wait);
  }
}
