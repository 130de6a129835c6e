// One Deno sandbox process seen from the host: spawn it, exchange frames, observe its exit.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { guestFrameLimits, guestMessageChecker } from "./guest-messages.ts";
import { encodeFrameHead, FRAME_KEY_BYTES, FrameDecoder, keyToHex, type Frame, type GuestMessage, type HostMessage } from "./ipc.ts";
import type { LaunchCommand } from "./launch.ts";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of what the process wrote to stderr, for diagnosing crashes. */
  stderr: string;
}

const STDERR_TAIL = 8192;

export class GuestProcess {
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private stderrTail = "";
  private alive = true;

  /**
   * @param limits what the guest may send: frames past them (see guestFrameLimits) are a broken or
   *   hostile guest, refused before they are buffered; messages past the caps, once parsed.
   */
  constructor(
    launch: LaunchCommand,
    limits: { maxOutputBytes: number; heapBytes: number },
    onFrame: (frame: Frame<GuestMessage>) => void,
    onProtocolError: (error: Error) => void,
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
      if (!this.alive) return;
      try {
        for (const { message, body } of decoder.push(chunk)) {
          const checked = checkGuestMessage(message);
          if (typeof checked === "string") throw new Error(`invalid message from the sandbox: ${checked}`);
          // Only snapshots travel as bodies.
          if (body && checked.type !== "snapshot") throw new Error(`invalid message from the sandbox: a ${checked.type} with a body`);
          onFrame({ message: checked, body });
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

  send(message: HostMessage, body?: Uint8Array): void {
    if (!this.alive) return;
    this.child.stdin!.write(encodeFrameHead(message, body?.byteLength ?? 0));
    if (body) this.child.stdin!.write(body);
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
