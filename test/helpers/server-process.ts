// A server as a child process (`node --import tsx server/main.ts`), for tests that must kill one
// outright (SIGKILL) or send it SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after } from "node:test";

export interface ServerProcess {
  process: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
}

/** Starts it with `env` over this process's environment and waits until it listens; killed when the test file ends. */
export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: join(import.meta.dirname, "../.."),
    env: { ...process.env, PORT: "0", POOL_SIZE: "1", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  after(() => void child.kill("SIGKILL"));
  for await (const line of createInterface({ input: child.stderr! })) {
    const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
    if (url) return { process: child, url };
  }
  throw new Error("the server exited before it listened");
}
