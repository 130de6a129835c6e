// One Deno sandbox process seen from the host: spawn it, exchange frames, observe its exit.
// Frames name the interpreter (worker) of the process they are for or from.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { guestFrameLimits, guestMessageChecker, MESSAGES_WITH_BODY, type GuestEnvelope } from "./guest-messages.ts";
import { encodeFrameHead, FRAME_KEY_BYTES, FrameDecoder, keyToHex, type HostFrame } from "./ipc.ts";
import type { LaunchCommand } from "./launch.ts";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of what the process wrote to stderr, for diagnosing crashes. */
  stderr: string;
}

const STDERR_TAIL = 8192;
/**
 * A body goes to the process in slices this large: each slice written is a sign that the process
 * reads (see activity), so a large one (a session's snapshot, to restore) shows its progress.
 */
const WRITE_SLICE_BYTES = 1024 * 1024;

export class GuestProcess {
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private stderrTail = "";
  private alive = true;
  private activityCount = 0;

  /**
   * @param limits what the guest may send: frames past them (see guestFrameLimits) are a broken or
   *   hostile guest, refused before they are buffered; messages past the caps, once parsed.
   * @param onProtocolError a frame that is not a frame (no key, too large, not JSON): the process
   *   itself is broken, and nothing more is read from it.
   * @param onInvalidMessage a well-framed message whose content does not fit: its worker (whose
   *   Python wrote that content) is broken, the process and its other workers are not.
   */
  constructor(
    launch: LaunchCommand,
    limits: { maxOutputBytes: number; heapBytes: number },
    onFrame: (envelope: GuestEnvelope, body: Uint8Array | null) => void,
    onProtocolError: (error: Error) => void,
    onInvalidMessage: (worker: number, problem: string) => void,
  ) {
    this.child = spawn(launch.command, launch.args, {
      env: launch.env,
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: a Ctrl-C meant for the server must not kill sandboxes behind its back.
      detached: true,
    });
    const key = randomBytes(FRAME_KEY_BYTES);
    const { maxHeaderBytes, maxFrameBytes } = guestFrameLimits(limits.maxOutputBytes, limits.heapBytes);
    const decoder = new FrameDecoder<Record<string, unknown>>(maxFrameBytes, key, maxHeaderBytes);
    const checkGuestMessage = guestMessageChecker(limits.maxOutputBytes);
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.activityCount++;
      if (!this.alive) return;
      try {
        for (const { message, body } of decoder.push(chunk)) {
          const checked = checkGuestMessage(message);
          const worker = message.worker;
          // Only some messages travel with bodies (a worker's message can carry one only through the process's own code).
          const problem = typeof checked === "string" ? checked : body && !MESSAGES_WITH_BODY.has(checked.message.type) ? `a ${checked.message.type} with a body` : null;
          if (problem === null) onFrame(checked as GuestEnvelope, body);
          else if (Number.isSafeInteger(worker)) onInvalidMessage(worker as number, `invalid message from the sandbox: ${problem}`);
          else throw new Error(`invalid message from the sandbox: ${problem}`);
        }
      } catch (error) {
        this.alive = false;
        onProtocolError(error as Error);
      }
    });
    this.child.stderr!.setEncoding("utf8").on("data", (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL);
    });
    // A write to a process that just died fails with EPIPE; its exit is what we report.
    this.child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        this.alive = false;
        resolve({ code, signal, stderr: this.stderrTail });
      });
      this.child.on("error", (error) => {
        this.alive = false;
        resolve({ code: null, signal: null, stderr: String(error) });
      });
    });
    this.send({ type: "hello", key: keyToHex(key) });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * A count that grows while the process shows it is working: each time bytes arrive from it,
   * and each time bytes that had to wait for it to read (its pipe was full) went through. It
   * does not grow while the process's main thread hangs, however much the host sends it (small
   * frames fit in the pipe without its reading them).
   */
  get activity(): number {
    return this.activityCount;
  }

  send(message: HostFrame, body?: Uint8Array): void {
    if (!this.alive) return;
    this.write(encodeFrameHead(message, body?.byteLength ?? 0));
    for (let at = 0; body && at < body.byteLength; at += WRITE_SLICE_BYTES) this.write(body.subarray(at, at + WRITE_SLICE_BYTES));
  }

  private write(bytes: Uint8Array): void {
    const stdin = this.child.stdin!;
    let waited = false;
    stdin.write(bytes, () => waited && this.activityCount++);
    // Still buffered here once written: the pipe was full, so when it goes, the process has read.
    waited = stdin.writableLength > 0;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
