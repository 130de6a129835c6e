// The tool calls of a session's running cell. Python waits in each until a client that declared
// tools answers it; when no such client is attached for the client timeout, Python gets a
// ToolError instead, so a client that went away never leaves a cell hanging (the cell's
// deadline and interrupt end the wait too: see Sandbox.answerTool).
import { randomBytes } from "node:crypto";
import { guard, type Reporter } from "../boundary.ts";
import type { ToolAnswer } from "../sandbox/ipc.ts";
import type { ToolCall } from "../sandbox/sandbox.ts";
import type { ToolCallEvent, Unnumbered } from "./events.ts";

interface Waiting {
  name: string;
  resolve(answer: ToolAnswer): void;
  /** Runs while no client that answers tools is attached. */
  timer: NodeJS.Timeout | null;
}

export class ToolCalls {
  private readonly waiting = new Map<string, Waiting>();
  private answerers = 0;

  constructor(
    /** TOOL_CLIENT_TIMEOUT, in ms. */
    private readonly clientTimeoutMs: number,
    private readonly publish: (event: Unnumbered<ToolCallEvent>) => void,
    /** Where a failure of a timer's callback is reported. */
    private readonly reporter: Reporter,
  ) {}

  /** The handler of the tool calls of the cell `id` (CellRequest.tool). */
  forCell(id: string): (call: ToolCall) => Promise<ToolAnswer> {
    return ({ name, args, kwargs }) =>
      new Promise((resolve) => {
        // Random: a session woken on another server must not reuse an id a late answer still names.
        const callId = `call-${randomBytes(8).toString("hex")}`;
        const waiting: Waiting = { name, resolve, timer: null };
        this.waiting.set(callId, waiting);
        this.publish({ type: "tool_call", id, callId, name, args, kwargs });
        if (this.answerers === 0) this.startTimer(callId, waiting);
      });
  }

  /** Answers the call `callId`; returns why not when no call of that id waits. */
  answer(callId: string, answer: ToolAnswer): string | null {
    const waiting = this.waiting.get(callId);
    if (!waiting) return `no tool call "${callId}" is waiting (it was answered, or its cell ended)`;
    this.settle(callId, waiting, answer);
    return null;
  }

  /** How many attached clients answer tools now: with none, every waiting call's timer runs. */
  setAnswerers(count: number): void {
    this.answerers = count;
    for (const [callId, waiting] of this.waiting) {
      if (count === 0 && !waiting.timer) this.startTimer(callId, waiting);
      if (count > 0 && waiting.timer) {
        clearTimeout(waiting.timer);
        waiting.timer = null;
      }
    }
  }

  /** The cell ended: Python waits no more, and a late answer finds nothing. */
  endCell(): void {
    for (const [callId, waiting] of this.waiting) this.settle(callId, waiting, { error: "the cell ended" });
  }

  private startTimer(callId: string, waiting: Waiting): void {
    const seconds = this.clientTimeoutMs / 1000;
    waiting.timer = setTimeout(
      guard(this.reporter, "timer", () => this.settle(callId, waiting, { error: `no client that answers tools was connected for ${seconds} s (TOOL_CLIENT_TIMEOUT), so tool ${waiting.name} got no answer` })),
      this.clientTimeoutMs,
    );
  }

  private settle(callId: string, waiting: Waiting, answer: ToolAnswer): void {
    if (waiting.timer) clearTimeout(waiting.timer);
    this.waiting.delete(callId);
    waiting.resolve(answer);
  }
}
