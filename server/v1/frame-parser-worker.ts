// A frame-parser worker (see frame-parser.ts): decodes, parses and checks one large client frame
// at a time, off the thread that serves every session, and posts back what parseClientFrame says.
import { parentPort } from "node:worker_threads";
import { parseClientFrame } from "../../protocol/validate.ts";
import type { ParseRequest, ParseReply } from "./frame-parser.ts";

const port = parentPort!;

port.on("message", ({ job, bytes }: ParseRequest) => {
  const parsed = parseClientFrame(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString());
  if (parsed.ok) {
    const frame = parsed.frame;
    // A whole payload that is a JSON value becomes its JSON text here, as the session would make
    // it (session.ts receivePayload): a string crosses back to the serving thread as one copy,
    // a structure as one object at a time, which can cost more than parsing it did.
    if ((frame.type === "add_context" || frame.type === "add_history") && typeof frame.payload !== "string" && !frame.more && frame.offset === undefined) {
      parsed.frame = { ...frame, payload: JSON.stringify(frame.payload), json: true };
    }
  }
  port.postMessage({ job, parsed } satisfies ParseReply);
});
