// One client WebSocket attached to a session: frames in are validated and handed to the session,
// frames out are written unless the client stopped reading.
import type { WebSocket } from "ws";
import { CLOSE, parseClientFrame, type ErrorFrame } from "../../protocol/index.ts";
import type { Attachment, Session } from "../sessions/session.ts";

/** A client this far behind is cut off; it reconnects with `since` and loses nothing. */
const MAX_UNSENT_BYTES = 32 * 1024 * 1024;

export function connect(socket: WebSocket, session: Session, resumed: boolean, since: number | null): void {
  const attachment: Attachment = {
    send(frame) {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > MAX_UNSENT_BYTES) {
        socket.close(CLOSE.slowConsumer, "too far behind: reconnect with since");
        return;
      }
      socket.send(frame);
    },
    close(code, reason) {
      socket.close(code, reason);
    },
  };
  const refuse = (message: string) => attachment.send(JSON.stringify({ type: "error", code: "bad_request", message } satisfies ErrorFrame));

  socket.on("message", (data, isBinary) => {
    if (isBinary) return refuse("binary frames are not part of the protocol; send JSON text frames");
    const parsed = parseClientFrame(data.toString());
    if (!parsed.ok) return refuse(parsed.message);
    session.receive(parsed.frame, attachment);
  });
  socket.on("close", () => session.detach(attachment));
  // ws reports protocol violations (an oversized frame, a bad opcode) here and closes the socket itself.
  socket.on("error", () => session.detach(attachment));
  session.attach(attachment, resumed, since);
}
