// A client that floods (a child process of bench/flood.ts, so its sending does not share an
// event loop with the client being measured): pings, large frames the server must parse and
// refuse, or large add_context payloads it must parse and hand to the session.
// Reconnects to its session whenever the server closes it, as a persistent attacker would.
// Usage: node --import tsx bench/flooder.ts URL TOKEN ping|large|context
import WebSocket from "ws";
import { PROTOCOL } from "../protocol/index.ts";

const [url, token, kind] = process.argv.slice(2) as [string, string, "ping" | "large" | "context"];
/** What the flooder keeps queued in its own socket, so that it floods as fast as the server reads. */
const QUEUED = kind === "ping" ? 1024 * 1024 : 64 * 1024 * 1024;
const LARGE = 60 * 1024 * 1024;
const frames = {
  ping: JSON.stringify({ type: "ping" }),
  large: JSON.stringify({ type: "ping", id: "f".repeat(LARGE) }),
  // Each replaces context_0: the session's budget (SESSION_BUFFER_MB) refuses what queues past it.
  context: JSON.stringify({ type: "add_context", index: 0, payload: "c".repeat(LARGE) }),
};
const frame = frames[kind];
let sessionId: string | null = null;

function flood(): void {
  const socket = new WebSocket(url.replace(/^http/, "ws") + (sessionId ? `/v1/sessions/${sessionId}` : "/v1/sessions"), [PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
  socket.on("message", (data) => {
    if (sessionId !== null) return;
    sessionId = (JSON.parse(data.toString()) as { session_id: string }).session_id;
  });
  socket.on("open", function send() {
    while (socket.readyState === socket.OPEN && socket.bufferedAmount < QUEUED) socket.send(frame);
    if (socket.readyState === socket.OPEN) setImmediate(send);
  });
  socket.on("error", () => {});
  socket.on("close", () => setTimeout(flood, 10));
}

flood();
