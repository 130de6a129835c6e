// Bytes on a bare TCP connection, for requests no HTTP client would send (bad request lines,
// targets, headers), and what came back.
import { connect } from "node:net";

export interface RawAnswer {
  /** The status of the first answer; null when the server closed without one. */
  status: number | null;
  /** Everything the server wrote. */
  text: string;
}

/** How long to wait for a server that neither answers nor closes (a request it still waits on). */
const IDLE_MS = 5000;

/**
 * Writes `request` to the server at `baseUrl` (http://host:port), ends the writing side, and
 * collects what comes back until the server closes the connection or goes quiet.
 */
export function rawExchange(baseUrl: string, request: string | Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const finish = () => {
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(text)?.[1];
      resolve({ status: status === undefined ? null : Number(status), text });
    };
    socket.setTimeout(IDLE_MS, finish);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("close", finish);
    socket.on("error", () => {}); // a reset is an answer too: "close" follows
    socket.end(request);
  });
}

/** The JSON body of an answer. */
export function bodyOf(answer: RawAnswer): unknown {
  const start = answer.text.indexOf("\r\n\r\n");
  return JSON.parse(answer.text.slice(start + 4));
}
