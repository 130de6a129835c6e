// Session events as protocol v1 frames (protocol/frames.ts): the v1 door's serialisation.
import type { ErrorFrame, ServerFrame, SessionFrame } from "../../protocol/index.ts";
import type { RecordedEvent, SessionEvent } from "../sessions/events.ts";
import type { Welcome } from "../sessions/session.ts";

/** The frame an event is sent as; null for events protocol v1 does not carry (queued, started). */
export function frameOf(event: SessionEvent): Exclude<ServerFrame, SessionFrame> | null {
  switch (event.type) {
    case "queued":
    case "started":
      return null;
    case "stream":
      return { type: "stream", id: event.id, name: event.name, text: event.text, seq: event.seq };
    case "display": {
      const { id, data, metadata, display_id, update, seq } = event;
      return { type: "display", id, data, metadata, ...(display_id !== null && { display_id }), ...(update && { update }), seq };
    }
    case "clear_output":
      return { type: "clear_output", id: event.id, wait: event.wait, seq: event.seq };
    case "input_request":
      return { type: "input_request", id: event.id, prompt: event.prompt, password: event.password, seq: event.seq };
    case "tool_call":
      return { type: "tool_call", id: event.id, call_id: event.callId, name: event.name, args: event.args, kwargs: event.kwargs, seq: event.seq };
    case "result":
      return { type: "result", id: event.id, ...event.result, seq: event.seq };
    case "error":
      return { type: "error", id: event.id, code: event.code, message: event.message, seq: event.seq };
    case "evicted":
      return { type: "evicted", reason: event.reason, ...(event.resumable && { resumable: true }), seq: event.seq };
  }
}

/**
 * The JSON text of an event's frame. The same event goes to every attached connection in a row,
 * so the last one serialised is kept and each is serialised once.
 */
export function textOf(event: RecordedEvent): { type: string; text: string } {
  if (last?.event !== event) last = { event, type: event.type, text: JSON.stringify(frameOf(event)) };
  return last;
}
let last: { event: RecordedEvent; type: string; text: string } | null = null;

/** What a connection is sent first: the `session` frame, then why some history is missing, if it is. */
export function welcomeFrames(sessionId: string, resumed: boolean, welcome: Welcome): Array<SessionFrame | ErrorFrame> {
  const session: SessionFrame = {
    type: "session",
    session_id: sessionId,
    resumed,
    last_seq: welcome.lastSeq,
    limits: welcome.limits,
    work_ids: welcome.workIds,
    ...(welcome.restoredFromCheckpoint !== null && { restored_from_checkpoint: { execution_count: welcome.restoredFromCheckpoint } }),
  };
  const { gap } = welcome;
  if (gap === null) return [session];
  const message =
    gap.kind === "restarted"
      ? // The client saw frames this server never sent: the session moved here (woken from the store) and its history started again.
        `the session's history restarted at seq ${welcome.lastSeq} (it was woken on another server); frames after ${gap.since} from before are gone`
      : `frames ${gap.from} to ${gap.to} are no longer buffered (the replay buffer keeps ${welcome.limits.replay_buffer_bytes} bytes); the frames after them follow`;
  return [session, { type: "error", code: "replay_gap", message }];
}
