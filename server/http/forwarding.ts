// A request for a session another live server holds goes to that server (see routing/forwarder.ts);
// each attempt is counted, and a client whose owner does not answer is told to retry.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Metrics } from "../metrics.ts";
import type { Forwarder } from "../routing/forwarder.ts";
import type { HeldElsewhere } from "../sessions/errors.ts";
import { refuseUpgrade, sendError } from "./responses.ts";

export class OwnerForwarding {
  constructor(
    private readonly forwarder: Forwarder,
    private readonly metrics: Metrics,
  ) {}

  /** Passes an HTTP request to the server holding its session; `body` when it was already read. */
  async http(request: IncomingMessage, response: ServerResponse, owner: HeldElsewhere, body?: Buffer): Promise<void> {
    const reached = await this.forwarder.http(request, response, owner.address, body);
    this.metrics.forwarded.inc({ kind: "http", outcome: reached ? "ok" : "unreachable" });
    if (!reached) sendError(response, "busy", unreachable(owner));
  }

  /** Splices an upgrade, as the client sent it (token included: the owner authenticates it again), to the owner. */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, owner: HeldElsewhere): Promise<void> {
    const reached = await this.forwarder.upgrade(request, socket, head, owner.address);
    this.metrics.forwarded.inc({ kind: "websocket", outcome: reached ? "ok" : "unreachable" });
    if (!reached) refuseUpgrade(socket, "busy", unreachable(owner));
  }
}

function unreachable(owner: HeldElsewhere): string {
  return `the server holding this session (${owner.pod}) is not answering; retry shortly: if it stopped, the session is recovered or reported lost once its heartbeat expires`;
}
