// One Deno sandbox process seen from the host: spawn it, exchange frames, observe its exit.
import { spawn, type ChildProcess } from "node:child_process";
import { encodeFrame, FrameDecoder, type Frame, type GuestMessage, type HostMessage } from "./ipc.ts";
import type { LaunchCommand } from "./launch.ts";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of what the process wrote to stderr, for diagnosing crashes. */
  stderr: string;
}

const STDERR_TAIL = 8192;
// A snapshot is the largest thing a guest sends; anything larger is a broken or hostile guest.
const MAX_GUEST_FRAME = 1024 * 1024 * 1024;

export class GuestProcess {
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private stderrTail = "";
  private alive = true;

  constructor(
    launch: LaunchCommand,
    onFrame: (frame: Frame<GuestMessage>) => void,
    onProtocolError: (error: Error) => void,
  ) {
    this.child = spawn(launch.command, launch.args, {
      env: launch.env,
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: a Ctrl-C meant for the server must not kill sandboxes behind its back.
      detached: true,
    });
    const decoder = new FrameDecoder<GuestMessage>(MAX_GUEST_FRAME);
    this.child.stdout!.on("data", (chunk: Buffer) => {
      if (!this.alive) return;
      let frames: Frame<GuestMessage>[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        onProtocolError(error as Error);
        return;
      }
      for (const frame of frames) onFrame(frame);
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
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.alive;
  }

  send(message: HostMessage): void {
    if (this.alive) this.child.stdin!.write(encodeFrame(message));
  }

  kill(): void {
    if (this.alive) this.child.kill("SIGKILL");
  }
}
