// Debian's jupyter-server and Python clients, for the Jupyter door's tests: always /usr/bin/python3
// (a pyenv python3 on the PATH lacks Debian's packages), each in a scratch directory of its own
// for Jupyter's runtime, config and data files, removed when the test file ends.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./redis-server.ts";

export const PYTHON = "/usr/bin/python3";
const START_TIMEOUT_MS = 60_000;

/** An environment for a Jupyter process: nothing of this machine's Jupyter config, files in `scratch`. */
export function jupyterEnv(scratch: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: scratch,
    JUPYTER_RUNTIME_DIR: join(scratch, "runtime"),
    JUPYTER_CONFIG_DIR: join(scratch, "config"),
    JUPYTER_DATA_DIR: join(scratch, "data"),
    JUPYTER_PLATFORM_DIRS: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    ...extra,
  };
}

export async function scratchDir(): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), "wasm-repl-jupyter-"));
  after(() => rm(scratch, { recursive: true, force: true }));
  return scratch;
}

export interface JupyterServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Its own token (--ServerApp.token), for its clients. */
  token: string;
  process: ChildProcess;
  /** Its output so far, for failure messages. */
  output(): string;
}

/** jupyter-server as a drop-in front of `gatewayUrl` (--gateway-url), authenticating to it with `gatewayToken`. */
export async function startGatewayJupyter(gatewayUrl: string, gatewayToken: string): Promise<JupyterServer> {
  const scratch = await scratchDir();
  const token = randomBytes(16).toString("hex");
  const port = await freePort();
  const args = [
    "-m",
    "jupyter_server",
    `--gateway-url=${gatewayUrl}`,
    `--GatewayClient.auth_token=${gatewayToken}`,
    `--ServerApp.token=${token}`,
    "--ServerApp.ip=127.0.0.1",
    `--ServerApp.port=${port}`,
    "--ServerApp.port_retries=0",
    "--no-browser",
    `--ServerApp.root_dir=${scratch}`,
    "--ServerApp.answer_yes=True",
    // It refuses to start as root otherwise (containers, CI); it only listens on loopback here.
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
  ];
  const child = spawn(PYTHON, args, { cwd: scratch, env: jupyterEnv(scratch), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-100_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  after(() => void child.kill("SIGKILL"));
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`jupyter-server exited with ${child.exitCode}:\n${output}`);
    try {
      const response = await fetch(`${url}/api`);
      if (response.ok) return { url, token, process: child, output: () => output };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill("SIGKILL");
  throw new Error(`jupyter-server did not answer within ${START_TIMEOUT_MS} ms:\n${output}`);
}

/** Runs a Python script of test/jupyter/ with `args`; its exit code and output. */
export async function runPython(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const scratch = await scratchDir();
  const child = spawn(PYTHON, [join(import.meta.dirname, "../jupyter", script), ...args], { cwd: scratch, env: jupyterEnv(scratch, env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-200_000)));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("close", (exit) => resolve(exit)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
