// Pod to pod: a request for a session another live pod holds is passed to that pod as it came,
// the client's token included (the owner verifies it again; there is no second credential).
// WebSocket upgrades are spliced byte for byte, so a forwarded cell costs one more loopback or
// cluster hop and no parsing.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";

/** Marks a forwarded request, so that a pod never forwards one again (no loops). */
export const FORWARDED_HEADER = "x-wasm-repl-forwarded-by";

const CONNECT_TIMEOUT_MS = 5000;

export function wasForwarded(request: IncomingMessage): boolean {
  return request.headers[FORWARDED_HEADER] !== undefined;
}

export class Forwarder {
  constructor(
    /** This pod's name, put in the marker header. */
    private readonly podName: string,
  ) {}

  /**
   * Replays the upgrade request to `address` (host:port) and splices the two connections.
   * Resolves false, having written nothing to the client, when the owner cannot be reached.
   */
  upgrade(request: IncomingMessage, client: Duplex, head: Buffer, address: string): Promise<boolean> {
    const { host, port } = split(address);
    return new Promise((resolve) => {
      const owner = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => owner.destroy(new Error("connect timeout")), CONNECT_TIMEOUT_MS);
      owner.once("error", () => {
        clearTimeout(timer);
        resolve(false);
      });
      owner.once("connect", () => {
        clearTimeout(timer);
        owner.write(this.requestHead(request));
        if (head.byteLength > 0) owner.write(head);
        owner.removeAllListeners("error");
        // Either side going away ends the other.
        owner.on("error", () => client.destroy());
        client.on("error", () => owner.destroy());
        owner.on("close", () => client.destroy());
        client.on("close", () => owner.destroy());
        (client as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        owner.pipe(client);
        client.pipe(owner);
        resolve(true);
      });
    });
  }

  /**
   * Sends an HTTP request (its body already read: `body`) to `address` and streams the answer
   * back. Resolves false, having answered nothing, when the owner cannot be reached.
   */
  http(request: IncomingMessage, response: ServerResponse, address: string, body?: Buffer): Promise<boolean> {
    const { host, port } = split(address);
    return new Promise((resolve) => {
      const headers = { ...request.headers, [FORWARDED_HEADER]: this.podName };
      if (body) headers["content-length"] = String(body.byteLength);
      const outgoing = httpRequest({ host, port, method: request.method, path: request.url, headers, timeout: CONNECT_TIMEOUT_MS }, (answer) => {
        outgoing.setTimeout(0); // a cell may run for minutes; the owner bounds it
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
        answer.once("end", () => resolve(true));
      });
      outgoing.once("timeout", () => outgoing.destroy(new Error("timeout")));
      outgoing.once("error", () => resolve(response.headersSent));
      if (body) outgoing.end(body);
      else request.pipe(outgoing);
    });
  }

  private requestHead(request: IncomingMessage): string {
    const lines = [`${request.method} ${request.url} HTTP/1.1`];
    for (let index = 0; index < request.rawHeaders.length; index += 2) {
      const name = request.rawHeaders[index]!;
      if (name.toLowerCase() !== FORWARDED_HEADER) lines.push(`${name}: ${request.rawHeaders[index + 1]}`);
    }
    lines.push(`${FORWARDED_HEADER}: ${this.podName}`);
    return `${lines.join("\r\n")}\r\n\r\n`;
  }
}

function split(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(":");
  return { host: address.slice(0, index).replace(/^\[|\]$/g, ""), port: Number(address.slice(index + 1)) };
}
